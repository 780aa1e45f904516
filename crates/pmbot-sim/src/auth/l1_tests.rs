use alloy::primitives::{U256, b256};

use super::*;
use crate::auth::testkit::*;

/// test-vectors.md §1: (chain, timestamp, nonce, signature by Anvil #0).
const VECTORS: [(u64, &str, u64, &str); 4] = [
    (
        AMOY,
        "10000000",
        23,
        "0xf62319a987514da40e57e2f4d7529f7bac38f0355bd88bb5adbb3768d80de6c1682518e0af677d5260366425f4361e7b70c25ae232aff0ab2331e2b164a1aedc1b",
    ),
    (
        POLYGON,
        "100000",
        0,
        "0xfdfb5abf512e439ea61c8595c18e527e718bf16010acf57cef51d09e15893098275d3c6f73038f36ec0cd0ce55436fca14dc64b11611f4dce896e354207508cc1b",
    ),
    (
        POLYGON,
        "10000000",
        23,
        "0x1a7118db6100dfd8efd102be36f472b59475dcac56eb4c9a2a94748d3655ba7c3c89deb8c19ee79eceb0a531122fbfbe88ed118034f9d8212e2b725e7b296b9d1c",
    ),
    (
        AMOY,
        "100000",
        0,
        "0xeb0c9e6ca9d4205aabbd0cbc73a84da889aaf11998d57688e74b04e5c8e83f4e6964e53c24d2d51632c8fbbb0c826a5a46c6e6bec9a49f61344c653731ba11511c",
    ),
];

const LOWER: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
const CHECKSUMMED: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

fn at(ts: &str) -> TimeWindow {
    TimeWindow::new(ts.parse().unwrap(), 30)
}

#[test]
fn type_hash_matches_the_protocol_note() {
    assert_eq!(
        ClobAuth::eip712_encode_type(),
        "ClobAuth(address address,string timestamp,uint256 nonce,string message)"
    );
    let auth = ClobAuth { address: ANVIL0, timestamp: String::new(), nonce: U256::ZERO, message: String::new() };
    assert_eq!(auth.eip712_type_hash(), b256!("0x52578c5c725a28a84fedc8c22aa47947822942f35b4dc350db028e45320e035c"));
}

#[test]
fn every_upstream_vector_verifies_with_either_address_spelling() {
    for (chain, ts, nonce, sig) in VECTORS {
        let nonce_text = nonce.to_string();
        for address in [LOWER, CHECKSUMMED] {
            let headers = L1Headers { address, signature: sig, timestamp: ts, nonce: Some(&nonce_text) };
            let id = verify(&headers, chain, at(ts)).unwrap_or_else(|e| panic!("{chain} {ts} {nonce}: {e}"));
            assert_eq!(id, L1Identity { address: ANVIL0, nonce: U256::from(nonce) });
        }
    }
}

#[test]
fn signing_reproduces_the_vectors() {
    let signer = anvil0();
    for (chain, ts, nonce, sig) in VECTORS {
        let signed = sign(&signer, signer.address(), chain, ts.parse().unwrap(), U256::from(nonce)).unwrap();
        assert_eq!(signed.signature, sig);
        assert_eq!(signed.address, LOWER, "the Rust SDK sends L1 addresses in lowercase");
        assert_eq!(signed.timestamp, ts);
        assert_eq!(signed.nonce, nonce.to_string());
    }
}

#[test]
fn a_signature_for_one_chain_fails_on_another() {
    let (_, ts, nonce, sig) = VECTORS[0];
    let nonce = nonce.to_string();
    let headers = L1Headers { address: LOWER, signature: sig, timestamp: ts, nonce: Some(&nonce) };
    assert_eq!(verify(&headers, POLYGON, at(ts)), Err(L1Error::SignerMismatch));
}

#[test]
fn wrong_address_nonce_or_timestamp_fails() {
    let (chain, ts, _, sig) = VECTORS[0];
    let other = format!("{:#x}", anvil1().address());
    let wrong_address = L1Headers { address: &other, signature: sig, timestamp: ts, nonce: Some("23") };
    assert_eq!(verify(&wrong_address, chain, at(ts)), Err(L1Error::SignerMismatch));

    let wrong_nonce = L1Headers { address: LOWER, signature: sig, timestamp: ts, nonce: Some("24") };
    assert_eq!(verify(&wrong_nonce, chain, at(ts)), Err(L1Error::SignerMismatch));

    // Same instant, different spelling: the signed text differs, so must the result.
    let respelled = L1Headers { address: LOWER, signature: sig, timestamp: "010000000", nonce: Some("23") };
    assert_eq!(verify(&respelled, chain, at(ts)), Err(L1Error::SignerMismatch));
}

#[test]
fn stale_and_future_timestamps_are_refused() {
    let (chain, ts, _, sig) = VECTORS[0];
    let headers = L1Headers { address: LOWER, signature: sig, timestamp: ts, nonce: Some("23") };
    let now: i64 = ts.parse().unwrap();
    assert!(verify(&headers, chain, TimeWindow::new(now + 30, 30)).is_ok());
    assert!(verify(&headers, chain, TimeWindow::new(now - 30, 30)).is_ok());
    assert_eq!(
        verify(&headers, chain, TimeWindow::new(now + 31, 30)),
        Err(L1Error::StaleTimestamp { timestamp_s: now, now_s: now + 31, max_skew_s: 30 })
    );
    assert!(matches!(verify(&headers, chain, TimeWindow::new(now - 31, 30)), Err(L1Error::StaleTimestamp { .. })));
}

#[test]
fn absent_nonce_means_zero() {
    let (chain, ts, _, sig) = VECTORS[1];
    let headers = L1Headers { address: CHECKSUMMED, signature: sig, timestamp: ts, nonce: None };
    assert_eq!(verify(&headers, chain, at(ts)).unwrap().nonce, U256::ZERO);
}

#[test]
fn malformed_headers_get_typed_errors() {
    let (chain, ts, _, sig) = VECTORS[0];
    let ok = L1Headers { address: LOWER, signature: sig, timestamp: ts, nonce: Some("23") };
    let w = at(ts);
    assert_eq!(verify(&L1Headers { address: "0x1234", ..ok }, chain, w), Err(L1Error::MalformedAddress));
    assert_eq!(verify(&L1Headers { timestamp: "10000000.0", ..ok }, chain, w), Err(L1Error::MalformedTimestamp));
    assert_eq!(verify(&L1Headers { nonce: Some("-1"), ..ok }, chain, w), Err(L1Error::MalformedNonce));
    assert_eq!(verify(&L1Headers { nonce: Some("0x17"), ..ok }, chain, w), Err(L1Error::MalformedNonce));
    assert_eq!(verify(&L1Headers { signature: &sig[..130], ..ok }, chain, w), Err(L1Error::MalformedSignature));
    let bad_v = format!("{}05", &sig[..130]);
    assert_eq!(verify(&L1Headers { signature: &bad_v, ..ok }, chain, w), Err(L1Error::MalformedSignature));
}

#[test]
fn headers_are_collected_by_name() {
    let (_, ts, _, sig) = VECTORS[0];
    let map = [("POLY_ADDRESS", LOWER), ("POLY_SIGNATURE", sig), ("POLY_TIMESTAMP", ts), ("POLY_NONCE", "23")];
    let lookup = |name: &str| map.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let headers = L1Headers::from_lookup(lookup).unwrap();
    assert_eq!(headers.nonce, Some("23"));
    let missing = L1Headers::from_lookup(|name| if name == "POLY_SIGNATURE" { None } else { lookup(name) });
    assert_eq!(missing, Err(L1Error::MissingHeader("POLY_SIGNATURE")));
}

#[test]
fn errors_map_to_the_real_reply_and_leak_nothing() {
    let (_, ts, _, sig) = VECTORS[0];
    let e = verify(&L1Headers { address: LOWER, signature: sig, timestamp: ts, nonce: Some("24") }, AMOY, at(ts))
        .unwrap_err();
    assert_eq!((e.http_status(), e.message()), (401, "Invalid L1 Request headers"));
    assert!(!e.to_string().contains(&sig[2..20]));
    assert!(!format!("{e:?}").contains(&sig[2..20]));
}

#[test]
fn round_trip_with_another_wallet_and_a_large_nonce() {
    let signer = anvil1();
    let nonce = U256::from(u64::MAX) + U256::from(7);
    let signed = sign(&signer, signer.address(), POLYGON, 1_760_000_000, nonce).unwrap();
    let window = TimeWindow::new(1_760_000_010, 30);
    let id = verify(&signed.as_headers(), POLYGON, window).unwrap();
    assert_eq!(id, L1Identity { address: signer.address(), nonce });
}
