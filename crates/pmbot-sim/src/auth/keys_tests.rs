use alloy::primitives::U256;

use super::*;
use crate::auth::testkit::*;

fn store(seed: u64) -> ApiKeyStore {
    ApiKeyStore::new(ServerSeed::from_u64(seed))
}

#[test]
fn credentials_have_the_real_shapes() {
    let creds = store(1).create(ANVIL0, U256::ZERO).unwrap();
    assert_eq!(creds.secret().len(), 44);
    assert!(creds.secret().ends_with('='));
    assert_eq!(URL_SAFE.decode(creds.secret()).unwrap().len(), 32);
    assert_eq!(creds.passphrase().len(), 64);
    assert!(creds.passphrase().bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(creds.api_key.to_string().len(), 36);
    let json = serde_json::to_value(&creds).unwrap();
    assert_eq!(json["apiKey"], creds.api_key.to_string());
    assert_eq!(json["secret"], creds.secret());
    assert_eq!(json["passphrase"], creds.passphrase());
}

#[test]
fn same_seed_same_keys_other_seed_or_slot_other_keys() {
    let a = store(7).create(ANVIL0, U256::ZERO).unwrap();
    let again = store(7).create(ANVIL0, U256::ZERO).unwrap();
    assert_eq!(a, again);
    let other_seed = store(8).create(ANVIL0, U256::ZERO).unwrap();
    let other_nonce = store(7).create(ANVIL0, U256::from(1)).unwrap();
    let other_addr = store(7).create(anvil1().address(), U256::ZERO).unwrap();
    for b in [&other_seed, &other_nonce, &other_addr] {
        assert_ne!(a.api_key, b.api_key);
        assert_ne!(a.secret(), b.secret());
        assert_ne!(a.passphrase(), b.passphrase());
    }
}

#[test]
fn create_twice_fails_and_derive_returns_the_same_key() {
    let mut s = store(1);
    assert_eq!(s.derive(ANVIL0, U256::ZERO), Err(KeyStoreError::NotFound));
    let created = s.create(ANVIL0, U256::ZERO).unwrap();
    assert_eq!(s.create(ANVIL0, U256::ZERO), Err(KeyStoreError::AlreadyExists));
    assert_eq!(s.len(), 1, "a refused create changes nothing");
    assert_eq!(s.derive(ANVIL0, U256::ZERO).unwrap(), created);
    assert_eq!(s.derive(ANVIL0, U256::from(1)), Err(KeyStoreError::NotFound));

    let e = KeyStoreError::AlreadyExists;
    assert_eq!((e.http_status(), e.message()), (400, "Could not create api key"));
    let e = KeyStoreError::NotFound;
    assert_eq!((e.http_status(), e.message()), (400, "Could not derive api key!"));
}

#[test]
fn list_lookup_and_delete() {
    let mut s = store(3);
    let k2 = s.create(ANVIL0, U256::from(2)).unwrap().api_key;
    let k0 = s.create(ANVIL0, U256::ZERO).unwrap().api_key;
    let other = s.create(anvil1().address(), U256::ZERO).unwrap().api_key;
    assert_eq!(s.keys_of(ANVIL0), vec![k0, k2]);
    assert_eq!(s.keys_of(anvil1().address()), vec![other]);

    let record = s.get(&k2).unwrap();
    assert_eq!((record.address, record.nonce), (ANVIL0, U256::from(2)));
    assert_eq!(record.hmac_key().len(), 32);

    let removed = s.delete(&k2).unwrap();
    assert_eq!(removed.api_key(), k2);
    assert!(s.get(&k2).is_none());
    assert_eq!(s.keys_of(ANVIL0), vec![k0]);
    assert_eq!(s.delete(&k2).unwrap_err(), KeyStoreError::UnknownKey);
    assert_eq!(s.derive(ANVIL0, U256::from(2)), Err(KeyStoreError::NotFound));
    // The slot is free again, and the seed gives back the same key.
    assert_eq!(s.create(ANVIL0, U256::from(2)).unwrap().api_key, k2);
}

#[test]
fn imported_credentials_are_checked() {
    let mut s = store(1);
    let creds = ApiCredentials::new(Uuid::nil(), ZERO_SECRET.into(), A_PASSPHRASE.into()).unwrap();
    s.insert(ApiKeyRecord::new(ANVIL0, U256::ZERO, creds.clone()).unwrap()).unwrap();
    assert_eq!(s.get(&Uuid::nil()).unwrap().hmac_key(), &[0u8; 32]);
    assert_eq!(s.derive(ANVIL0, U256::ZERO).unwrap(), creds);
    let dup = ApiKeyRecord::new(ANVIL0, U256::ZERO, creds).unwrap();
    assert_eq!(s.insert(dup), Err(KeyStoreError::AlreadyExists));
    assert_eq!(
        ApiCredentials::new(Uuid::nil(), "not base64!".into(), A_PASSPHRASE.into()),
        Err(KeyStoreError::MalformedSecret)
    );
}

#[test]
fn debug_output_redacts_every_secret() {
    let mut s = store(5);
    let creds = s.create(ANVIL0, U256::ZERO).unwrap();
    let record = s.get(&creds.api_key).unwrap();
    let seed = ServerSeed::from_bytes([0xab; 32]);
    let outputs = [format!("{creds:?}"), format!("{record:?}"), format!("{s:?}"), format!("{seed:?}")];
    for out in &outputs {
        assert!(!out.contains(creds.secret()), "{out}");
        assert!(!out.contains(creds.passphrase()), "{out}");
        assert!(!out.contains(&creds.secret()[..12]), "{out}");
        assert!(!out.to_lowercase().contains("abab"), "{out}");
    }
    assert!(outputs[0].contains(&creds.api_key.to_string()));
}
