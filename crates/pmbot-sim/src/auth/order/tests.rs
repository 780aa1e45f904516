//! Vectors from test-vectors.md §4 (hashes, signatures, bodies), §4c
//! (POLY_1271), §5 and §7a (amounts), plus round trips and tampering.

use alloy::primitives::{Address, B256, Bytes, U256, address, b256, hex};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolStruct;
use pmbot_core::{Price, Side, Size, TickSize};
use uuid::Uuid;

use super::eip712::sol;
use super::*;
use crate::auth::testkit::*;

const ZERO_ORDER_SIG_V2: &str = "0x8a6edfe94a2169c3d05673521b53b7aee2205288f1363f1c9e24716317eebe6a17ca4bc397b85a5f39be21f32d0d8b38e0fd6de6af091dc0f4ba1f667d1883981c";

/// §4a: the exact body the Rust SDK posts for the all-zero order.
const SDK_ZERO_BODY: &str = r#"{"order":{"salt":0,"maker":"0x0000000000000000000000000000000000000000","signer":"0x0000000000000000000000000000000000000000","tokenId":"0","makerAmount":"0","takerAmount":"0","side":"BUY","expiration":"0","signatureType":0,"timestamp":"0","metadata":"0x0000000000000000000000000000000000000000000000000000000000000000","builder":"0x0000000000000000000000000000000000000000000000000000000000000000","signature":"0x8a6edfe94a2169c3d05673521b53b7aee2205288f1363f1c9e24716317eebe6a17ca4bc397b85a5f39be21f32d0d8b38e0fd6de6af091dc0f4ba1f667d1883981c"},"orderType":"FOK","owner":"00000000-0000-0000-0000-000000000000"}"#;

/// §4b: the body py-clob-client-v2 posts for the EOA order on exchange V2.
const PY2_EOA_BODY: &str = r#"{"order":{"salt":479249096354,"maker":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","signer":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","tokenId":"1234","makerAmount":"100000000","takerAmount":"50000000","side":"BUY","expiration":"0","signatureType":0,"timestamp":"1710000000000","metadata":"0x0000000000000000000000000000000000000000000000000000000000000000","builder":"0x0000000000000000000000000000000000000000000000000000000000000000","signature":"0x42c7b4857d51e344045fcfde17b37cf1290d784471ffe618c22aa56ea5ddcf0009015b87ffb299813f5597e86d4ad56f40d634558d915edb719e6fc71dbc0d891c"},"owner":"00000000-0000-0000-0000-000000000000","orderType":"GTC","deferExec":false,"postOnly":false}"#;

/// §4c: the wrapped POLY_1271 signature of the deposit-wallet order.
const POLY1271_SIG: &str = "0xa3a093c83b6c20c83355c16ce94c92e6e9fcbdeb840618cc74f6c57a42ad145b2b98db73d2c73cbf1f2b6af288566ae81960ddbc3a13921027358a8bff3be6ff1ca440cbd865bc0c6243d7a8df9a8bf48a8827b0a4abbb61c30e96d305423af148d23d42d3ad94e65d78258cecaf8dcbaddac0f73dc085040f2c12bb595dd838044f726465722875696e743235362073616c742c61646472657373206d616b65722c61646472657373207369676e65722c75696e7432353620746f6b656e49642c75696e74323536206d616b6572416d6f756e742c75696e743235362074616b6572416d6f756e742c75696e743820736964652c75696e7438207369676e6174757265547970652c75696e743235362074696d657374616d702c62797465733332206d657461646174612c62797465733332206275696c6465722900ba";

const DEPOSIT_WALLET: Address = address!("0x1111111111111111111111111111111111111111");

fn polygon() -> ExchangeContracts {
    ExchangeContracts::default()
}

fn ctf_v2() -> ExchangeDomain {
    polygon().domain(ExchangeKind::CtfV2, false)
}

fn neg_risk_v2() -> ExchangeDomain {
    polygon().domain(ExchangeKind::CtfV2, true)
}

fn v3() -> ExchangeDomain {
    polygon().domain(ExchangeKind::V3, false)
}

fn zero_order() -> SignedOrder {
    SignedOrder {
        salt: U256::ZERO,
        maker: Address::ZERO,
        signer: Address::ZERO,
        token_id: U256::ZERO,
        maker_amount: U256::ZERO,
        taker_amount: U256::ZERO,
        side: Side::Buy,
        signature_type: SignatureType::Eoa,
        timestamp_ms: U256::ZERO,
        metadata: B256::ZERO,
        builder: B256::ZERO,
        expiration_s: 0,
        signature: Bytes::new(),
    }
}

/// §4b inputs: salt 479249096354, Anvil #0 as maker and signer, token 1234,
/// BUY 100 pUSD for 50 shares (a price of 2: only the signature matters here).
fn eoa_order() -> SignedOrder {
    SignedOrder {
        salt: U256::from(479_249_096_354u64),
        maker: ANVIL0,
        signer: ANVIL0,
        token_id: U256::from(1234),
        maker_amount: U256::from(100_000_000),
        taker_amount: U256::from(50_000_000),
        timestamp_ms: U256::from(1_710_000_000_000u64),
        ..zero_order()
    }
}

fn post(order: SignedOrder, order_type: OrderType) -> PostOrder {
    PostOrder { order, owner: Uuid::nil(), order_type, post_only: None, defer_exec: None }
}

fn sig(hex_text: &str) -> Bytes {
    hex::decode(hex_text).unwrap().into()
}

// ---------------------------------------------------------------- hashing

#[test]
fn order_type_string_and_hash_match_the_contracts() {
    assert_eq!(sol::Order::eip712_encode_type(), ORDER_TYPE_STRING);
    assert_eq!(ORDER_TYPE_STRING.len(), 0xba);
    assert_eq!(
        zero_order().to_sol().eip712_type_hash(),
        b256!("0xbb86318a2138f5fa8ae32fbe8e659f8fcf13cc6ae4014a707893055433818589")
    );
}

#[test]
fn domains_default_to_polygon_contracts() {
    let d = ctf_v2();
    assert_eq!((d.version(), d.chain_id()), (DomainVersion::V2, 137));
    assert_eq!(d.verifying_contract(), address!("0xE111180000d2663C0091e4f400237545B87B996B"));
    assert_eq!(neg_risk_v2().verifying_contract(), address!("0xe2222d279d744050d28e00520010520000310F59"));
    assert_eq!(v3().version(), DomainVersion::V3);
    assert_eq!(v3().verifying_contract(), address!("0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"));
    assert_eq!(polygon().domain(ExchangeKind::V3, true), v3(), "V3 has no neg-risk twin");
    assert_eq!(d.separator(), d.eip712().separator());
}

#[test]
fn zero_order_hashes_and_signatures_on_three_domains() {
    let cases = [
        (ctf_v2(), b256!("0xd07306d5c36c7023456b3218dafb72d322ca92d67353d6e10be3be3c991ca2e5"), ZERO_ORDER_SIG_V2),
        (
            neg_risk_v2(),
            b256!("0x23218c4a6a816be79e2f31b3b0fd2ba2538aba77c6252825bbbd86fa78e13c88"),
            "0x75a6b017773e1afd1ea606f92cd59dd90ecd4de97d23ceb4450234cde113e34117c2e820e6ea952948f3a9ec8a0852035ca1c250be6d004839ee964e432b3bab1b",
        ),
        (
            v3(),
            b256!("0x80009b54e30b325f08e7db4da620ecab9162650add264371d092c32d6285706d"),
            "0x478a46983dfe231ba436abbcf65d1628410782cfd0bf572c6b3e2ed29c5842b54f53105f6602802a454da7f6e8f567ce53fbc1f236bdb70445588f99719168401c",
        ),
    ];
    for (domain, hash, signature) in cases {
        assert_eq!(zero_order().order_hash(&domain), hash);
        assert_eq!(zero_order().order_id(&domain).0, hash.0);
        // The SDK test signs the zero order with Anvil #0 although its signer
        // field is zero: the same key reproduces the signature byte for byte,
        // and verification, rightly, refuses it.
        let signed = zero_order().signed_with(&anvil0(), &domain).unwrap();
        assert_eq!(signed.signature, sig(signature));
        assert_eq!(signed.verify_signature(&domain), Err(OrderVerifyError::SignerMismatch));
        // With Anvil #0 as signer (and maker) the verification goes through.
        let own =
            SignedOrder { maker: ANVIL0, signer: ANVIL0, ..zero_order() }.signed_with(&anvil0(), &domain).unwrap();
        let v = own.verify_signature(&domain).unwrap();
        assert_eq!((v.signer, v.ecdsa_signer), (ANVIL0, ANVIL0));
    }
}

#[test]
fn eoa_order_vectors_on_three_domains() {
    let cases = [
        (
            ctf_v2(),
            b256!("0x10124949f84e9f7438c88d02bfd546ceb27ed6eb1fdb0175137af535b6e2513d"),
            "0x42c7b4857d51e344045fcfde17b37cf1290d784471ffe618c22aa56ea5ddcf0009015b87ffb299813f5597e86d4ad56f40d634558d915edb719e6fc71dbc0d891c",
        ),
        (
            neg_risk_v2(),
            b256!("0x9c2976657c4b229cc8e467a32ce9e3281ef40a70aee31cdc4619ebf51e4a7274"),
            "0x79d82a92bd020329c6b9afad40b742c8cfaebdd992219b57e4282b6cfd53a66f2c97471d3297fa001f3eac2ead5f709c6e266893f19cef37633511420542a63b1b",
        ),
        (
            v3(),
            b256!("0x0d34966f6a42e3b8bec3d0d0dcca74d762695a3bd4cdf1d6a1fc2201bf9daa87"),
            "0x22a4e68028c7984ff9b19217dee3a8491614e97a84ca42d53fe73e7a50745fd66706b966fa16ce911a3217958a5471343c47f2fd56ea9392522a4c1c156eac701c",
        ),
    ];
    for (domain, hash, signature) in &cases {
        let order = SignedOrder { signature: sig(signature), ..eoa_order() };
        let v = post(order.clone(), OrderType::Gtc).verify(domain).unwrap();
        assert_eq!(v.order_id.0, hash.0);
        assert_eq!((v.signer, v.ecdsa_signer), (ANVIL0, ANVIL0));
        assert_eq!(eoa_order().signed_with(&anvil0(), domain).unwrap(), order);
        // Signed for one domain, refused on the others: a version "2" order is
        // no version "3" order, and neg-risk is another contract.
        for (other, _, _) in &cases {
            if other != domain {
                assert_eq!(order.verify_signature(other), Err(OrderVerifyError::SignerMismatch));
            }
        }
    }
    // Same contract and chain, other version: still a mismatch.
    let fake_v3 = ExchangeDomain::new(DomainVersion::V3, 137, ctf_v2().verifying_contract());
    let order = SignedOrder { signature: sig(cases[0].2), ..eoa_order() };
    assert_eq!(order.verify_signature(&fake_v3), Err(OrderVerifyError::SignerMismatch));
    // Other chain: a mismatch too.
    let amoy = ExchangeDomain::new(DomainVersion::V2, AMOY, ctf_v2().verifying_contract());
    assert_eq!(order.verify_signature(&amoy), Err(OrderVerifyError::SignerMismatch));
}

// --------------------------------------------------------------- tampering

/// A proxy-wallet order (maker != signer), so that every field can be
/// changed without tripping the EOA maker rule first.
fn proxy_order() -> SignedOrder {
    SignedOrder {
        salt: U256::from(12345),
        maker: address!("0x365f0cA36ae1F641E02Fe3b7743673DA42A13a70"),
        signer: ANVIL0,
        token_id: U256::from_str_radix(
            "71321045679252212594626385532706912750332728571942532289631379312455583992563",
            10,
        )
        .unwrap(),
        maker_amount: U256::from(5_600_000),
        taker_amount: U256::from(10_000_000),
        side: Side::Buy,
        signature_type: SignatureType::PolyProxy,
        timestamp_ms: U256::from(1_760_000_000_000u64),
        metadata: B256::repeat_byte(0xaa),
        builder: B256::repeat_byte(0xbb),
        expiration_s: 0,
        signature: Bytes::new(),
    }
}

#[test]
fn any_signed_field_changed_after_signing_fails_verification() {
    let domain = ctf_v2();
    let signed = proxy_order().signed_with(&anvil0(), &domain).unwrap();
    assert!(post(signed.clone(), OrderType::Gtc).verify(&domain).is_ok());
    let one = U256::from(1);
    let tampered: [(&str, SignedOrder); 11] = [
        ("salt", SignedOrder { salt: signed.salt + one, ..signed.clone() }),
        ("maker", SignedOrder { maker: anvil1().address(), ..signed.clone() }),
        ("signer", SignedOrder { signer: anvil1().address(), ..signed.clone() }),
        ("tokenId", SignedOrder { token_id: signed.token_id - one, ..signed.clone() }),
        ("makerAmount", SignedOrder { maker_amount: signed.maker_amount + one, ..signed.clone() }),
        ("takerAmount", SignedOrder { taker_amount: signed.taker_amount - one, ..signed.clone() }),
        ("side", SignedOrder { side: Side::Sell, ..signed.clone() }),
        ("signatureType", SignedOrder { signature_type: SignatureType::PolyGnosisSafe, ..signed.clone() }),
        ("timestamp", SignedOrder { timestamp_ms: signed.timestamp_ms + one, ..signed.clone() }),
        ("metadata", SignedOrder { metadata: B256::repeat_byte(0xab), ..signed.clone() }),
        ("builder", SignedOrder { builder: B256::ZERO, ..signed.clone() }),
    ];
    for (field, order) in tampered {
        assert_eq!(post(order, OrderType::Gtc).verify(&domain), Err(OrderVerifyError::SignerMismatch), "{field}");
    }
    // The signature itself: one flipped bit in r.
    let mut bytes = signed.signature.to_vec();
    bytes[5] ^= 1;
    let flipped = SignedOrder { signature: bytes.into(), ..signed.clone() };
    assert!(post(flipped, OrderType::Gtc).verify(&domain).is_err());
    // `expiration` is not signed in V2: changing it cannot be detected.
    let later = SignedOrder { expiration_s: 1_900_000_000, ..signed };
    assert!(post(later, OrderType::Gtd).verify(&domain).is_ok());
}

#[test]
fn wrong_key_is_a_mismatch() {
    let domain = ctf_v2();
    let forged = eoa_order().signed_with(&anvil1(), &domain).unwrap();
    assert_eq!(forged.verify_signature(&domain), Err(OrderVerifyError::SignerMismatch));
}

#[test]
fn signature_type_and_expiration_rules() {
    let domain = ctf_v2();
    let key = anvil0();
    let check =
        |order: SignedOrder, order_type| post(order.signed_with(&key, &domain).unwrap(), order_type).verify(&domain);

    let eoa_with_funder = SignedOrder { maker: DEPOSIT_WALLET, ..eoa_order() };
    assert_eq!(check(eoa_with_funder, OrderType::Gtc), Err(OrderVerifyError::EoaMakerNotSigner));
    for t in [SignatureType::PolyProxy, SignatureType::PolyGnosisSafe] {
        let zero_maker = SignedOrder { maker: Address::ZERO, signature_type: t, ..eoa_order() };
        assert_eq!(check(zero_maker, OrderType::Gtc), Err(OrderVerifyError::ZeroMaker));
        let ok = SignedOrder { maker: DEPOSIT_WALLET, signature_type: t, ..eoa_order() };
        assert!(check(ok, OrderType::Gtc).is_ok());
    }
    let split = SignedOrder { maker: DEPOSIT_WALLET, signature_type: SignatureType::Poly1271, ..eoa_order() };
    assert_eq!(check(split, OrderType::Gtc), Err(OrderVerifyError::DepositWalletMakerNotSigner));

    for t in [OrderType::Gtc, OrderType::Fok, OrderType::Fak] {
        let expiring = SignedOrder { expiration_s: 1_800_000_000, ..eoa_order() };
        assert_eq!(check(expiring, t), Err(OrderVerifyError::ExpirationNotAllowed));
    }
    let gtd = SignedOrder { expiration_s: 1_800_000_000, ..eoa_order() };
    assert!(check(gtd, OrderType::Gtd).is_ok());
    assert!(check(eoa_order(), OrderType::Gtd).is_ok(), "expiration 0 on GTD is not refused here");

    let e = OrderVerifyError::SignerMismatch;
    assert_eq!((e.http_status(), e.message()), (400, "invalid signature"));
}

#[test]
fn malleable_or_misencoded_signatures_are_refused() {
    let domain = ctf_v2();
    let signed = eoa_order().signed_with(&anvil0(), &domain).unwrap();
    let sig = alloy::primitives::Signature::from_raw(&signed.signature).unwrap();
    // The same point with s' = n - s and flipped parity recovers the same key,
    // but the exchange contract refuses high-s signatures.
    let high_s = alloy::primitives::Signature::new(sig.r(), secp256k1_n() - sig.s(), !sig.v());
    assert_eq!(high_s.recover_address_from_prehash(&signed.order_hash(&domain)).unwrap(), ANVIL0);
    let malleated = SignedOrder { signature: high_s.as_bytes().to_vec().into(), ..signed.clone() };
    assert!(matches!(malleated.verify_signature(&domain), Err(OrderVerifyError::MalformedSignature(_))));
    // v as 0/1 instead of 27/28.
    let mut rsy = signed.signature.to_vec();
    rsy[64] -= 27;
    let rsy = SignedOrder { signature: rsy.into(), ..signed.clone() };
    assert!(matches!(rsy.verify_signature(&domain), Err(OrderVerifyError::MalformedSignature(_))));
    // Wrong length.
    let short = SignedOrder { signature: Bytes::copy_from_slice(&signed.signature[..64]), ..signed };
    assert!(matches!(short.verify_signature(&domain), Err(OrderVerifyError::MalformedSignature(_))));
}

fn secp256k1_n() -> U256 {
    U256::from_str_radix("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16).unwrap()
}

// --------------------------------------------------------------- POLY_1271

fn deposit_wallet_order() -> SignedOrder {
    SignedOrder {
        maker: DEPOSIT_WALLET,
        signer: DEPOSIT_WALLET,
        signature_type: SignatureType::Poly1271,
        ..eoa_order()
    }
}

fn amoy_v2() -> ExchangeDomain {
    ExchangeDomain::new(DomainVersion::V2, AMOY, ctf_v2().verifying_contract())
}

#[test]
fn poly1271_vector_signs_and_verifies() {
    let domain = amoy_v2();
    let signed = deposit_wallet_order().signed_with(&anvil0(), &domain).unwrap();
    assert_eq!(signed.signature, sig(POLY1271_SIG));
    assert_eq!(POLY1271_SIG.len(), 636);

    let from_vector = SignedOrder { signature: sig(POLY1271_SIG), ..deposit_wallet_order() };
    let v = post(from_vector, OrderType::Gtc).verify(&domain).unwrap();
    assert_eq!(v.signer, DEPOSIT_WALLET);
    assert_eq!(v.ecdsa_signer, ANVIL0, "the inner ECDSA signer is the wallet's owner");
    assert_eq!(v.order_id.0, deposit_wallet_order().order_hash(&domain).0);
}

#[test]
fn poly1271_layout_domain_and_contents_are_checked() {
    let domain = amoy_v2();
    let good = sig(POLY1271_SIG).to_vec();
    let with = |bytes: Vec<u8>| SignedOrder { signature: bytes.into(), ..deposit_wallet_order() };

    // Verified against another domain: the embedded separator gives it away.
    assert_eq!(with(good.clone()).verify_signature(&ctf_v2()), Err(OrderVerifyError::WrongDomain));
    // A changed order no longer matches the embedded contents hash.
    let tampered = SignedOrder { maker_amount: U256::from(100_000_001), ..with(good.clone()) };
    assert_eq!(tampered.verify_signature(&domain), Err(OrderVerifyError::ContentsMismatch));
    // Contents swapped to match a tampered order: the ECDSA part no longer
    // recovers to the owner.
    let other = SignedOrder { maker_amount: U256::from(100_000_001), ..deposit_wallet_order() };
    let mut swapped = good.clone();
    swapped[97..129].copy_from_slice(other.struct_hash().as_slice());
    let v = SignedOrder { signature: swapped.into(), ..other }.verify_signature(&domain).unwrap();
    assert_ne!(v.ecdsa_signer, ANVIL0);
    // Layout: truncated, wrong length suffix, wrong contents type.
    assert!(matches!(
        with(good[..good.len() - 1].to_vec()).verify_signature(&domain),
        Err(OrderVerifyError::MalformedSignature(_))
    ));
    let mut bad_len = good.clone();
    let n = bad_len.len();
    bad_len[n - 1] = 0xb9;
    assert!(matches!(with(bad_len).verify_signature(&domain), Err(OrderVerifyError::MalformedSignature(_))));
    let mut bad_type = good.clone();
    bad_type[129] = b'X';
    assert!(matches!(with(bad_type).verify_signature(&domain), Err(OrderVerifyError::MalformedSignature(_))));
    // A plain 65-byte signature is not accepted for type 3.
    assert!(matches!(
        with(good[..65].to_vec()).verify_signature(&domain),
        Err(OrderVerifyError::MalformedSignature(_))
    ));
}

#[test]
fn poly1271_round_trip_with_another_owner() {
    let domain = v3();
    let owner: PrivateKeySigner = anvil1();
    let order = SignedOrder { side: Side::Sell, ..deposit_wallet_order() };
    let v = order.signed_with(&owner, &domain).unwrap().verify_signature(&domain).unwrap();
    assert_eq!(v.ecdsa_signer, owner.address());
}

// ------------------------------------------------------------------ bodies

#[test]
fn sdk_zero_body_parses_and_re_serializes_byte_for_byte() {
    let parsed = parse_post_order(SDK_ZERO_BODY.as_bytes()).unwrap();
    assert_eq!(parsed.order, SignedOrder { signature: sig(ZERO_ORDER_SIG_V2), ..zero_order() });
    assert_eq!(parsed.order_type, OrderType::Fok);
    assert_eq!(parsed.owner, Uuid::nil());
    assert_eq!((parsed.post_only, parsed.defer_exec), (None, None));
    assert_eq!(serde_json::to_string(&parsed).unwrap(), SDK_ZERO_BODY);
}

#[test]
fn py2_body_with_checksummed_addresses_parses_and_verifies() {
    let parsed = parse_post_order(PY2_EOA_BODY.as_bytes()).unwrap();
    assert_eq!(parsed.order.maker, ANVIL0);
    assert_eq!(parsed.order.token(), pmbot_core::TokenId::parse("1234").unwrap());
    assert_eq!((parsed.post_only, parsed.defer_exec), (Some(false), Some(false)));
    assert_eq!(parsed.order_type, OrderType::Gtc);
    let v = parsed.verify(&ctf_v2()).unwrap();
    assert_eq!(v.order_id.to_string(), "0x10124949f84e9f7438c88d02bfd546ceb27ed6eb1fdb0175137af535b6e2513d");
}

#[test]
fn rs_rendering_of_section_7b_round_trips() {
    // §7b: field values and rendering of rs `signed_order_json_structure`.
    let order = SignedOrder {
        salt: U256::from(12345),
        maker: address!("0xaDEFf2158d668f64308C62ef227C5CcaCAAf976D"),
        signer: ANVIL0,
        token_id: U256::from(999),
        maker_amount: U256::from(50_000_000),
        taker_amount: U256::from(100_000_000),
        side: Side::Buy,
        signature_type: SignatureType::Eoa,
        timestamp_ms: U256::from(1_700_000_000_000u64),
        metadata: B256::repeat_byte(0xaa),
        builder: B256::repeat_byte(0xbb),
        expiration_s: 1_700_001_000,
        signature: Bytes::new(),
    }
    .signed_with(&anvil0(), &ctf_v2())
    .unwrap();
    let body = PostOrder { post_only: Some(false), defer_exec: Some(true), ..post(order, OrderType::Gtc) };
    let text = serde_json::to_string(&body).unwrap();
    for fragment in [
        r#""salt":12345"#,
        r#""maker":"0xadeff2158d668f64308c62ef227c5ccacaaf976d""#,
        r#""signer":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266""#,
        r#""tokenId":"999""#,
        r#""makerAmount":"50000000""#,
        r#""takerAmount":"100000000""#,
        r#""side":"BUY""#,
        r#""signatureType":0"#,
        r#""timestamp":"1700000000000""#,
        r#""expiration":"1700001000""#,
        r#""orderType":"GTC","owner":"00000000-0000-0000-0000-000000000000","postOnly":false,"deferExec":true"#,
    ] {
        assert!(text.contains(fragment), "{fragment} not in {text}");
    }
    for absent in ["taker\"", "nonce", "feeRateBps"] {
        assert!(!text.contains(absent), "{absent}");
    }
    assert_eq!(parse_post_order(text.as_bytes()).unwrap(), body);
    // EOA with a different maker: refused by the type rule, as the SDK would.
    assert_eq!(body.verify(&ctf_v2()), Err(OrderVerifyError::EoaMakerNotSigner));
}

#[test]
fn v1_body_is_a_version_mismatch() {
    // §3: the V1 shape py-clob-client 0.34 posts.
    let v1 = r#"{"order":{"salt":479249096354,"maker":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","signer":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266","taker":"0x0000000000000000000000000000000000000000","tokenId":"1234","makerAmount":"100000000","takerAmount":"50000000","expiration":"0","nonce":"0","feeRateBps":"100","side":"BUY","signatureType":0,"signature":"0x302cd9abd0b5fcaa202a344437ec0b6660da984e24ae9ad915a592a90facf5a51bb8a873cd8d270f070217fea1986531d5eec66f1162a81f66e026db653bf7ce1c"},"owner":"00000000-0000-0000-0000-000000000000","orderType":"GTC","postOnly":false}"#;
    let e = parse_post_order(v1.as_bytes()).unwrap_err();
    assert_eq!(e, OrderParseError::VersionMismatch);
    assert_eq!((e.http_status(), e.message()), (400, "order_version_mismatch"));
    // Just one V1 field is enough when the V2 fields are missing.
    let only_nonce = v1
        .replace(r#""taker":"0x0000000000000000000000000000000000000000","#, "")
        .replace(r#""feeRateBps":"100","#, "");
    assert_eq!(parse_post_order(only_nonce.as_bytes()), Err(OrderParseError::VersionMismatch));
}

#[test]
fn lenient_spellings_are_read_the_same() {
    let body = PY2_EOA_BODY
        .replace(r#""salt":479249096354"#, r#""salt":"479249096354""#)
        .replace(r#""makerAmount":"100000000""#, r#""makerAmount":100000000"#)
        .replace(r#""side":"BUY""#, r#""side":0"#)
        .replace(r#""signatureType":0"#, r#""signatureType":"0""#)
        .replace(r#""orderType":"GTC""#, r#""orderType":"gtc","extra":{"ignored":true}"#);
    let lenient = parse_post_order(body.as_bytes()).unwrap();
    assert_eq!(lenient, parse_post_order(PY2_EOA_BODY.as_bytes()).unwrap());
    let sell = PY2_EOA_BODY.replace(r#""side":"BUY""#, r#""side":"sell""#);
    assert_eq!(parse_post_order(sell.as_bytes()).unwrap().order.side, Side::Sell);
}

#[test]
fn bad_bodies_are_typed_errors() {
    let cases: [(String, OrderParseError); 12] = [
        ("{not json".into(), OrderParseError::Malformed(String::new())),
        ("[]".into(), OrderParseError::Malformed(String::new())),
        (
            r#"{"owner":"00000000-0000-0000-0000-000000000000","orderType":"GTC"}"#.into(),
            OrderParseError::MissingField("order"),
        ),
        (
            PY2_EOA_BODY.replace(r#""owner":"00000000-0000-0000-0000-000000000000","#, ""),
            OrderParseError::MissingField("owner"),
        ),
        (PY2_EOA_BODY.replace(r#""orderType":"GTC","#, ""), OrderParseError::MissingField("orderType")),
        (PY2_EOA_BODY.replace(r#""tokenId":"1234","#, ""), OrderParseError::MissingField("tokenId")),
        (
            PY2_EOA_BODY.replace(r#""side":"BUY""#, r#""side":"HOLD""#),
            OrderParseError::InvalidField { field: "side", reason: "" },
        ),
        (
            PY2_EOA_BODY.replace(r#""signatureType":0"#, r#""signatureType":4"#),
            OrderParseError::InvalidField { field: "signatureType", reason: "" },
        ),
        (
            PY2_EOA_BODY.replace(r#""orderType":"GTC""#, r#""orderType":"IOC""#),
            OrderParseError::InvalidField { field: "orderType", reason: "" },
        ),
        (
            PY2_EOA_BODY.replace(r#""owner":"00000000-0000-0000-0000-000000000000""#, r#""owner":"me""#),
            OrderParseError::InvalidField { field: "owner", reason: "" },
        ),
        (
            PY2_EOA_BODY.replace(r#""makerAmount":"100000000""#, r#""makerAmount":"-1""#),
            OrderParseError::InvalidField { field: "makerAmount", reason: "" },
        ),
        (
            PY2_EOA_BODY.replace(
                "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\",\"signer",
                "f39Fd6e51aad88F6F4ce6aB8827279cffFb92266\",\"signer",
            ),
            OrderParseError::InvalidField { field: "maker", reason: "" },
        ),
    ];
    for (body, expected) in cases {
        let got = parse_post_order(body.as_bytes()).unwrap_err();
        let same_kind = match (&got, &expected) {
            (OrderParseError::Malformed(_), OrderParseError::Malformed(_)) => true,
            (OrderParseError::InvalidField { field: a, .. }, OrderParseError::InvalidField { field: b, .. }) => a == b,
            _ => got == expected,
        };
        assert!(same_kind, "{body}: got {got:?}, expected {expected:?}");
        assert_eq!(got.message(), "Invalid payload");
    }
    let bad_metadata = PY2_EOA_BODY.replacen(
        r#""metadata":"0x0000000000000000000000000000000000000000000000000000000000000000""#,
        r#""metadata":"0x00""#,
        1,
    );
    assert!(matches!(
        parse_post_order(bad_metadata.as_bytes()),
        Err(OrderParseError::InvalidField { field: "metadata", .. })
    ));
}

#[test]
fn batch_bodies_give_one_result_per_order() {
    let v1ish = PY2_EOA_BODY.replace(r#""timestamp":"1710000000000","#, r#""nonce":"0","#);
    let batch = format!("[{PY2_EOA_BODY},{SDK_ZERO_BODY},{v1ish},7]");
    let results = parse_post_orders(batch.as_bytes()).unwrap();
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok());
    assert!(results[1].is_ok());
    assert_eq!(results[2], Err(OrderParseError::VersionMismatch));
    assert!(matches!(results[3], Err(OrderParseError::Malformed(_))));
    assert!(matches!(parse_post_orders(PY2_EOA_BODY.as_bytes()), Err(OrderParseError::Malformed(_))));
    assert_eq!(parse_post_orders(b"[]").unwrap(), vec![]);
}

// ----------------------------------------------------------------- amounts

/// (side, price, tick, makerAmount, takerAmount) for limit orders: every row
/// of test-vectors.md §5 (TS/py2) and §7a (Rust), incl. the 0.005/0.0025 ticks.
const LIMIT_ROWS: &[(Side, &str, &str, u64, u64)] = {
    use Side::{Buy as B, Sell as S};
    &[
        (B, "0.5", "0.1", 10520000, 21040000),
        (B, "0.56", "0.01", 11782400, 21040000),
        (B, "0.056", "0.001", 1178240, 21040000),
        (B, "0.0056", "0.0001", 117824, 21040000),
        (S, "0.5", "0.1", 21040000, 10520000),
        (S, "0.56", "0.01", 21040000, 11782400),
        (S, "0.056", "0.001", 21040000, 1178240),
        (S, "0.0056", "0.0001", 21040000, 117824),
        (B, "0.7", "0.1", 119000000, 170000000),
        (B, "0.8", "0.1", 80800000, 101000000),
        (B, "0.7", "0.1", 8974000, 12820000),
        (B, "0.3", "0.1", 730767000, 2435890000),
        (S, "0.7", "0.1", 170000000, 119000000),
        (S, "0.8", "0.1", 101000000, 80800000),
        (S, "0.7", "0.1", 12820000, 8974000),
        (S, "0.3", "0.1", 2435890000, 730767000),
        (B, "0.7", "0.01", 119000000, 170000000),
        (B, "0.82", "0.01", 82820000, 101000000),
        (B, "0.78", "0.01", 9999600, 12820000),
        (B, "0.39", "0.01", 949997100, 2435890000),
        (S, "0.7", "0.01", 170000000, 119000000),
        (S, "0.82", "0.01", 101000000, 82820000),
        (S, "0.78", "0.01", 12820000, 9999600),
        (S, "0.39", "0.01", 2435890000, 949997100),
        (B, "0.007", "0.001", 1190000, 170000000),
        (B, "0.082", "0.001", 8282000, 101000000),
        (B, "0.078", "0.001", 999960, 12820000),
        (B, "0.039", "0.001", 94999710, 2435890000),
        (S, "0.007", "0.001", 170000000, 1190000),
        (S, "0.082", "0.001", 101000000, 8282000),
        (S, "0.078", "0.001", 12820000, 999960),
        (S, "0.039", "0.001", 2435890000, 94999710),
        (B, "0.0007", "0.0001", 119000, 170000000),
        (B, "0.0082", "0.0001", 828200, 101000000),
        (B, "0.0078", "0.0001", 99996, 12820000),
        (B, "0.0039", "0.0001", 9499971, 2435890000),
        (S, "0.0007", "0.0001", 170000000, 119000),
        (S, "0.0082", "0.0001", 101000000, 828200),
        (S, "0.0078", "0.0001", 12820000, 99996),
        (S, "0.0039", "0.0001", 2435890000, 9499971),
        (B, "0.505", "0.005", 5050000, 10000000),
        (S, "0.5025", "0.0025", 10000000, 5025000),
        // §7a (rs tests/order.rs)
        (B, "0.5", "0.1", 10520000, 21040000),
        (B, "0.56", "0.01", 11782400, 21040000),
        (B, "0.055", "0.005", 1157200, 21040000),
        (B, "0.0525", "0.0025", 1104600, 21040000),
        (B, "0.056", "0.001", 1178240, 21040000),
        (B, "0.0056", "0.0001", 117824, 21040000),
        (B, "0.24", "0.01", 3600000, 15000000),
        (B, "0.82", "0.01", 82820000, 101000000),
        (B, "0.78", "0.01", 9999600, 12820000),
        (S, "0.5", "0.1", 21040000, 10520000),
        (S, "0.56", "0.01", 21040000, 11782400),
        (S, "0.055", "0.005", 21040000, 1157200),
        (S, "0.0525", "0.0025", 21040000, 1104600),
        (S, "0.056", "0.001", 21040000, 1178240),
        (S, "0.0056", "0.0001", 21040000, 117824),
        (S, "0.24", "0.01", 15000000, 3600000),
        (S, "0.82", "0.01", 101000000, 82820000),
        (S, "0.78", "0.01", 12820000, 9999600),
        (S, "0.43", "0.01", 19100000, 8213000),
    ]
};

/// Market orders (FOK/FAK builders): every row of §5's market table and
/// §7a's market cases, plus py-clob-client-v2's float-bug row.
const MARKET_ROWS: &[(Side, &str, &str, u64, u64)] = {
    use Side::{Buy as B, Sell as S};
    &[
        (B, "0.5", "0.1", 100000000, 200000000),
        (B, "0.56", "0.01", 100000000, 178571400),
        (B, "0.056", "0.001", 100000000, 1785714280),
        (B, "0.0056", "0.0001", 100000000, 17857142857),
        (S, "0.5", "0.1", 100000000, 50000000),
        (S, "0.56", "0.01", 100000000, 56000000),
        (S, "0.056", "0.001", 100000000, 5600000),
        (S, "0.0056", "0.0001", 100000000, 560000),
        (B, "0.7", "0.1", 119000000, 170000000),
        (B, "0.8", "0.1", 82800000, 103500000),
        (B, "0.7", "0.1", 9990000, 14271000),
        (B, "0.3", "0.1", 949990000, 3166633000),
        (B, "0.5", "0.1", 1000000, 2000000),
        (B, "0.5", "0.01", 1000000, 2000000),
        (B, "0.05", "0.01", 100000000, 2000000000),
        (B, "0.07", "0.01", 119000000, 1700000000),
        (B, "0.82", "0.01", 82820000, 101000000),
        (B, "0.78", "0.01", 9990000, 12807600),
        (B, "0.39", "0.01", 949990000, 2435871700),
        (B, "0.56", "0.01", 1000000, 1785700),
        (B, "0.57", "0.01", 1000000, 1754300),
        (B, "0.005", "0.001", 100000000, 20000000000),
        (B, "0.007", "0.001", 119000000, 17000000000),
        (B, "0.082", "0.001", 82820000, 1010000000),
        (B, "0.078", "0.001", 9990000, 128076920),
        (B, "0.039", "0.001", 949990000, 24358717940),
        (B, "0.056", "0.001", 1000000, 17857140),
        (B, "0.057", "0.001", 1000000, 17543850),
        (B, "0.0005", "0.0001", 100000000, 200000000000),
        (B, "0.0007", "0.0001", 119000000, 170000000000),
        (B, "0.0082", "0.0001", 82820000, 10100000000),
        (B, "0.0078", "0.0001", 9990000, 1280769230),
        (B, "0.0039", "0.0001", 949990000, 243587179487),
        (B, "0.0056", "0.0001", 1000000, 178571428),
        (B, "0.0057", "0.0001", 1000000, 175438596),
        // §7a: market SELL 85.714286 shares rounded to 85.71 at 0.5.
        (S, "0.5", "0.01", 85710000, 42855000),
        // py-clob-client-v2's market BUY of $1 "at 0.57": its float round_down
        // made the price 0.56, and 0.56 is what the amounts say.
        (B, "0.56", "0.01", 1000000, 1785700),
    ]
};

fn check_row(side: Side, price: &str, tick: &str, maker: u64, taker: u64) -> OrderTerms {
    let tick: TickSize = tick.parse().unwrap();
    let terms = terms_from_amounts(side, U256::from(maker), U256::from(taker), tick)
        .unwrap_or_else(|e| panic!("{side} {price} @{tick} {maker}/{taker}: {e}"));
    assert_eq!(terms.price, Price::parse(price).unwrap(), "{side} {price} @{tick} {maker}/{taker}");
    let shares = if side == Side::Buy { taker } else { maker };
    assert_eq!(terms.size, Size::from_micros(shares));
    terms
}

#[test]
fn every_limit_vector_gives_its_exact_price() {
    for &(side, price, tick, maker, taker) in LIMIT_ROWS {
        let terms = check_row(side, price, tick, maker, taker);
        assert_eq!(terms.fit, PriceFit::Exact, "{side} {price} @{tick}");
    }
}

#[test]
fn every_market_vector_gives_its_tick_price() {
    let mut truncated = 0;
    for &(side, price, tick, maker, taker) in MARKET_ROWS {
        if check_row(side, price, tick, maker, taker).fit == PriceFit::Truncated {
            truncated += 1;
        }
    }
    assert_eq!(truncated, 18, "market BUYs whose shares do not divide evenly truncate them");
    let t = check_row(Side::Buy, "0.56", "0.01", 100000000, 178571400);
    assert_eq!(t.fit, PriceFit::Truncated);
}

#[test]
fn genuinely_off_tick_orders_are_refused() {
    let t = TickSize::Hundredth;
    let amounts = |side, m: u64, k: u64| terms_from_amounts(side, U256::from(m), U256::from(k), t);
    // 10 shares at 0.565 on a 0.01 market, both sides.
    assert!(matches!(amounts(Side::Buy, 5_650_000, 10_000_000), Err(AmountsError::OffTick { .. })));
    assert!(matches!(amounts(Side::Sell, 10_000_000, 5_650_000), Err(AmountsError::OffTick { .. })));
    // One tick-quantum over: the boundary of the tolerance (BUY at 0.56).
    // taker = 100/0.56 = 178.571428.. shares; 178.5714 is explained, 178.5713 is not.
    // q = 0.0001 share, so 178.571329 is explained and 178.571328 is not.
    assert!(amounts(Side::Buy, 100_000_000, 178_571_400).is_ok());
    assert_eq!(amounts(Side::Buy, 100_000_000, 178_571_329).unwrap().price.to_string(), "0.56");
    assert!(matches!(amounts(Side::Buy, 100_000_000, 178_571_328), Err(AmountsError::OffTick { .. })));
    // SELL 100 shares at 0.56 truncated by just under / just over q.
    assert!(amounts(Side::Sell, 100_000_000, 55_999_901).is_ok());
    assert!(matches!(amounts(Side::Sell, 100_000_000, 55_999_900), Err(AmountsError::OffTick { .. })));
    // The real server's example: 10 pUSD for 10.2 shares on a 0.001 market.
    let e = terms_from_amounts(Side::Buy, U256::from(10_000_000), U256::from(10_200_000), TickSize::Thousandth)
        .unwrap_err();
    assert_eq!(e.message(), "Price (0.9803921568627451) breaks minimum tick size rule: 0.001");
}

#[test]
fn zero_large_and_out_of_range_amounts_are_refused() {
    let t = TickSize::Hundredth;
    let amounts = |side, m: u64, k: u64| terms_from_amounts(side, U256::from(m), U256::from(k), t);
    assert_eq!(amounts(Side::Buy, 0, 10), Err(AmountsError::ZeroAmount));
    assert_eq!(amounts(Side::Sell, 10, 0), Err(AmountsError::ZeroAmount));
    assert_eq!(
        terms_from_amounts(Side::Buy, U256::from(u64::MAX) + U256::from(1), U256::from(1), t),
        Err(AmountsError::TooLarge)
    );
    // Prices at or beyond the ends of the grid.
    for (side, m, k) in [
        (Side::Buy, 10_000_000, 10_000_000),  // 1.00
        (Side::Buy, 9_950_000, 10_000_000),   // 0.995 > 0.99
        (Side::Buy, 50_000, 10_000_000),      // 0.005 < 0.01
        (Side::Sell, 10_000_000, 50_000),     // 0.005
        (Side::Sell, 10_000_000, 9_950_000),  // 0.995 rounds up to 1.00
        (Side::Sell, 10_000_000, 20_000_000), // 2.00
    ] {
        assert!(matches!(amounts(side, m, k), Err(AmountsError::OutOfRange { .. })), "{side} {m}/{k}");
    }
    let e = amounts(Side::Buy, 1_000, 1_000_000).unwrap_err();
    assert_eq!(e.message(), "invalid price (0.001), min: 0.01 - max: 0.99");
    // The ends themselves are fine.
    assert_eq!(amounts(Side::Buy, 100_000, 10_000_000).unwrap().price.to_string(), "0.01");
    assert_eq!(amounts(Side::Sell, 10_000_000, 100_000).unwrap().price.to_string(), "0.01");
    assert_eq!(amounts(Side::Buy, 9_900_000, 10_000_000).unwrap().price.to_string(), "0.99");
    assert_eq!(amounts(Side::Sell, 10_000_000, 9_900_000).unwrap().price.to_string(), "0.99");
}

#[test]
fn rounding_quantum_per_tick() {
    let q: Vec<u64> = TickSize::ALL.into_iter().map(rounding_quantum).collect();
    assert_eq!(q, vec![1_000, 100, 100, 100, 100, 100]);
}
