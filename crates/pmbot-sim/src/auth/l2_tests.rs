use alloy::primitives::U256;

use super::*;
use crate::auth::keys::ServerSeed;
use crate::auth::testkit::*;

/// test-vectors.md §2: (timestamp, method, path, body, expected signature).
const VECTORS: [(&str, &str, &str, &str, &str); 4] = [
    ("1000000", "test-sign", "/orders", r#"{"hash": "0x123"}"#, "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="),
    ("1000000", "test-sign", "/orders", r#"{"hash":"0x123"}"#, "4gJVbox-R6XlDK4nlaicig0_ANVL1qdcahiL8CXfXLM="),
    ("1", "GET", "/", "", "eHaylCwqRSOa2LFD77Nt_SaTpbsxzN8eTEI3LryhEj4="),
    ("1", "GET", "/data/orders", "", "cnThw5te07Y2pRUmbE09vF67Qj_c1djYNWAw6kNCMBY="),
];

const NIL: &str = "00000000-0000-0000-0000-000000000000";
const CHECKSUMMED: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

/// A store holding the SDK tests' fixed key for Anvil #0.
fn sdk_test_store() -> ApiKeyStore {
    let mut store = ApiKeyStore::new(ServerSeed::from_u64(0));
    let creds = ApiCredentials::new(Uuid::nil(), ZERO_SECRET.into(), A_PASSPHRASE.into()).unwrap();
    store.insert(ApiKeyRecord::new(ANVIL0, U256::ZERO, creds).unwrap()).unwrap();
    store
}

fn headers<'a>(sig: &'a str, ts: &'a str) -> L2Headers<'a> {
    L2Headers { address: CHECKSUMMED, signature: sig, timestamp: ts, api_key: NIL, passphrase: A_PASSPHRASE }
}

fn at(ts: &str) -> TimeWindow {
    TimeWindow::new(ts.parse().unwrap(), 30)
}

#[test]
fn signing_reproduces_every_vector() {
    for (ts, method, path, body, expected) in VECTORS {
        assert_eq!(sign(ZERO_SECRET, ts, method, path, body.as_bytes()).unwrap(), expected, "{body}");
    }
    assert_eq!(hmac_message("1", "POST", "/path", br#"{"foo":"bar"}"#), br#"1POST/path{"foo":"bar"}"#);
    assert_eq!(hmac_message("1", "GET", "/data/orders?market=0x1", b""), b"1GET/data/orders");
}

#[test]
fn every_vector_verifies_against_the_store() {
    let store = sdk_test_store();
    for (ts, method, path, body, sig) in VECTORS {
        let request = L2Request { method, path, body: body.as_bytes() };
        let id = verify(&headers(sig, ts), &request, &store, at(ts)).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(id, L2Identity { address: ANVIL0, api_key: Uuid::nil() });
    }
}

#[test]
fn query_strings_are_not_signed() {
    let store = sdk_test_store();
    let (ts, method, _, _, sig) = VECTORS[3];
    let request = L2Request { method, path: "/data/orders?next_cursor=MA==", body: b"" };
    assert!(verify(&headers(sig, ts), &request, &store, at(ts)).is_ok());
}

#[test]
fn lowercase_address_and_unpadded_signature_are_accepted() {
    let store = sdk_test_store();
    let (ts, method, path, body, sig) = VECTORS[2];
    let lower = CHECKSUMMED.to_lowercase();
    let h = L2Headers { address: &lower, signature: sig.trim_end_matches('='), ..headers(sig, ts) };
    assert!(verify(&h, &L2Request { method, path, body: body.as_bytes() }, &store, at(ts)).is_ok());
}

#[test]
fn body_signed_with_single_quotes_replaced_is_accepted_either_way() {
    let store = sdk_test_store();
    // A client holding `{'a': 'b'}` signs `{"a": "b"}` but may send either.
    let sig = sign(ZERO_SECRET, "5", "POST", "/order", br#"{"a": "b"}"#).unwrap();
    for sent in [&br#"{'a': 'b'}"#[..], br#"{"a": "b"}"#] {
        let request = L2Request { method: "POST", path: "/order", body: sent };
        assert!(verify(&headers(&sig, "5"), &request, &store, at("5")).is_ok());
    }
    assert_eq!(sign(ZERO_SECRET, "5", "POST", "/order", br#"{'a': 'b'}"#).unwrap(), sig);
}

#[test]
fn negative_cases_are_refused_with_their_reason() {
    let store = sdk_test_store();
    let (ts, method, path, body, sig) = VECTORS[1];
    let request = L2Request { method, path, body: body.as_bytes() };
    let ok = headers(sig, ts);
    let check = |h: L2Headers<'_>, r: &L2Request<'_>, w: TimeWindow| verify(&h, r, &store, w);

    // Wrong secret: signed with another key.
    let other_secret = URL_SAFE.encode([7u8; 32]);
    let forged = sign(&other_secret, ts, method, path, body.as_bytes()).unwrap();
    assert_eq!(check(L2Headers { signature: &forged, ..ok }, &request, at(ts)), Err(L2Error::SignatureMismatch));
    // Tampered body, method or path.
    let tampered = L2Request { body: br#"{"hash":"0x124"}"#, ..request };
    assert_eq!(check(ok, &tampered, at(ts)), Err(L2Error::SignatureMismatch));
    assert_eq!(check(ok, &L2Request { method: "POST", ..request }, at(ts)), Err(L2Error::SignatureMismatch));
    assert_eq!(check(ok, &L2Request { path: "/order", ..request }, at(ts)), Err(L2Error::SignatureMismatch));
    // Stale timestamp.
    let now: i64 = ts.parse().unwrap();
    assert_eq!(
        check(ok, &request, TimeWindow::new(now + 31, 30)),
        Err(L2Error::StaleTimestamp { timestamp_s: now, now_s: now + 31, max_skew_s: 30 })
    );
    // Timestamp changed to fit the window: the HMAC no longer matches.
    let late = (now + 100).to_string();
    assert_eq!(check(L2Headers { timestamp: &late, ..ok }, &request, at(&late)), Err(L2Error::SignatureMismatch));
    // Wrong address.
    let other = anvil1().address().to_checksum(None);
    assert_eq!(check(L2Headers { address: &other, ..ok }, &request, at(ts)), Err(L2Error::AddressMismatch));
    // Wrong passphrase (same length and one character off).
    let mut pass = A_PASSPHRASE.to_owned();
    pass.replace_range(63.., "b");
    assert_eq!(check(L2Headers { passphrase: &pass, ..ok }, &request, at(ts)), Err(L2Error::PassphraseMismatch));
    assert_eq!(check(L2Headers { passphrase: "a", ..ok }, &request, at(ts)), Err(L2Error::PassphraseMismatch));
    // Unknown or malformed key.
    let unknown = "00000000-0000-0000-0000-000000000001";
    assert_eq!(check(L2Headers { api_key: unknown, ..ok }, &request, at(ts)), Err(L2Error::UnknownApiKey));
    assert_eq!(check(L2Headers { api_key: "nil", ..ok }, &request, at(ts)), Err(L2Error::MalformedApiKey));
    // Malformed signature, timestamp, address.
    assert_eq!(check(L2Headers { signature: "AAAA", ..ok }, &request, at(ts)), Err(L2Error::MalformedSignature));
    assert_eq!(check(L2Headers { signature: "+/+/", ..ok }, &request, at(ts)), Err(L2Error::MalformedSignature));
    assert_eq!(check(L2Headers { timestamp: "1e6", ..ok }, &request, at(ts)), Err(L2Error::MalformedTimestamp));
    assert_eq!(check(L2Headers { address: "0xabc", ..ok }, &request, at(ts)), Err(L2Error::MalformedAddress));
}

#[test]
fn round_trip_with_store_issued_credentials() {
    let mut store = ApiKeyStore::new(ServerSeed::from_u64(42));
    let signer = anvil1();
    let creds = store.create(signer.address(), U256::ZERO).unwrap();
    let body = br#"{"orderID":"0xabc"}"#;
    let request = L2Request { method: "DELETE", path: "/order", body };
    let signed = sign_headers(&creds, signer.address(), 1_760_000_000, &request).unwrap();
    assert_eq!(signed.address, signer.address().to_checksum(None));
    let id = verify(&signed.as_headers(), &request, &store, TimeWindow::new(1_760_000_005, 30)).unwrap();
    assert_eq!(id, L2Identity { address: signer.address(), api_key: creds.api_key });

    // Another wallet's key cannot be used with this wallet's address, even
    // with a valid HMAC under that key.
    let other = store.create(ANVIL0, U256::ZERO).unwrap();
    let mixed = sign_headers(&other, signer.address(), 1_760_000_000, &request).unwrap();
    assert_eq!(
        verify(&mixed.as_headers(), &request, &store, TimeWindow::new(1_760_000_000, 30)),
        Err(L2Error::AddressMismatch)
    );
    // After deletion the key is unknown.
    store.delete(&creds.api_key).unwrap();
    assert_eq!(
        verify(&signed.as_headers(), &request, &store, TimeWindow::new(1_760_000_000, 30)),
        Err(L2Error::UnknownApiKey)
    );
}

#[test]
fn errors_and_debug_never_show_secrets() {
    let store = sdk_test_store();
    let (ts, method, path, body, sig) = VECTORS[1];
    let request = L2Request { method, path, body: body.as_bytes() };
    let h = L2Headers { passphrase: "secret-passphrase-guess", ..headers(sig, ts) };
    let e = verify(&h, &request, &store, at(ts)).unwrap_err();
    assert_eq!((e.http_status(), e.message()), (401, "Unauthorized/Invalid api key"));
    for out in [e.to_string(), format!("{e:?}"), format!("{h:?}")] {
        assert!(!out.contains("secret-passphrase-guess"), "{out}");
        assert!(!out.contains(sig), "{out}");
        assert!(!out.contains(ZERO_SECRET), "{out}");
    }
}

#[test]
fn websocket_credentials_are_checked_whole() {
    let store = sdk_test_store();
    let id = verify_ws_auth(&store, NIL, ZERO_SECRET, A_PASSPHRASE).unwrap();
    assert_eq!(id, L2Identity { address: ANVIL0, api_key: Uuid::nil() });
    let other_secret = URL_SAFE.encode([1u8; 32]);
    assert_eq!(verify_ws_auth(&store, NIL, &other_secret, A_PASSPHRASE), Err(L2Error::SignatureMismatch));
    assert_eq!(verify_ws_auth(&store, NIL, ZERO_SECRET, "a"), Err(L2Error::PassphraseMismatch));
    assert_eq!(
        verify_ws_auth(&store, "00000000-0000-0000-0000-000000000009", ZERO_SECRET, A_PASSPHRASE),
        Err(L2Error::UnknownApiKey)
    );
    assert_eq!(verify_ws_auth(&store, "", ZERO_SECRET, A_PASSPHRASE), Err(L2Error::MalformedApiKey));
}
