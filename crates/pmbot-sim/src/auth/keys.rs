//! API keys: the L2 credentials an address obtains through L1 authentication.
//!
//! Invariant: a key's credentials are a function of (server seed, address,
//! nonce) alone, so a restarted simulator with the same seed hands every
//! client the same key, secret and passphrase again. The store holds at most
//! one key per (address, nonce) slot. As on the real server, `create` on a
//! taken slot fails with 400 `Could not create api key` (the official clients'
//! `create_or_derive` then falls back to derive), and `derive` on an empty slot
//! fails with 400 `Could not derive api key!` (the body is documented in
//! rs-clob-client-v2 issue #37; the status is assumed to be 400 like create's).
//!
//! Secrets never appear in `Debug` or `Display` output; only
//! [`ApiCredentials::secret`], [`ApiCredentials::passphrase`] and the
//! `Serialize` impl (the `/auth/api-key` reply body) expose them.

use std::collections::HashMap;
use std::fmt;

use alloy::primitives::{Address, U256, hex};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, Mac};
use serde::ser::{Serialize, SerializeStruct, Serializer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// The simulator's secret from which every API key is derived.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSeed([u8; 32]);

impl ServerSeed {
    pub const fn from_bytes(bytes: [u8; 32]) -> ServerSeed {
        ServerSeed(bytes)
    }

    /// A seed from a run's numeric seed (`pmbot sim --seed N`). Hashed with a
    /// label so the key seed differs from other uses of the same number.
    pub fn from_u64(seed: u64) -> ServerSeed {
        let mut h = Sha256::new();
        h.update(b"pmbot-sim/api-key-seed/v1");
        h.update(seed.to_be_bytes());
        ServerSeed(h.finalize().into())
    }
}

impl fmt::Debug for ServerSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSeed(<redacted>)")
    }
}

/// Why a key operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyStoreError {
    /// `create` on an (address, nonce) slot that already has a key.
    #[error("Could not create api key")]
    AlreadyExists,
    /// `derive` on an (address, nonce) slot without a key.
    #[error("Could not derive api key!")]
    NotFound,
    /// No key with that id (delete or lookup).
    #[error("unknown api key")]
    UnknownKey,
    /// Imported credentials whose secret is not URL-safe base64.
    #[error("api secret is not URL-safe base64")]
    MalformedSecret,
}

impl KeyStoreError {
    /// The HTTP status the real API answers with.
    pub const fn http_status(&self) -> u16 {
        match self {
            KeyStoreError::AlreadyExists | KeyStoreError::NotFound | KeyStoreError::MalformedSecret => 400,
            KeyStoreError::UnknownKey => 401,
        }
    }

    /// The `{"error": ...}` text the real API answers with.
    pub const fn message(&self) -> &'static str {
        match self {
            KeyStoreError::AlreadyExists => "Could not create api key",
            KeyStoreError::NotFound => "Could not derive api key!",
            KeyStoreError::UnknownKey => "Unauthorized/Invalid api key",
            KeyStoreError::MalformedSecret => "Invalid payload",
        }
    }
}

/// An API key with its secret and passphrase, as `/auth/api-key` returns it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiCredentials {
    pub api_key: Uuid,
    secret: String,
    passphrase: String,
}

impl ApiCredentials {
    /// Credentials from known values (the SDK tests' fixed key, say). The
    /// secret must be URL-safe base64, as the clients decode it.
    pub fn new(api_key: Uuid, secret: String, passphrase: String) -> Result<ApiCredentials, KeyStoreError> {
        decode_secret(&secret)?;
        Ok(ApiCredentials { api_key, secret, passphrase })
    }

    /// The HMAC secret, URL-safe base64 with padding.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn passphrase(&self) -> &str {
        &self.passphrase
    }
}

impl fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiCredentials")
            .field("api_key", &self.api_key)
            .field("secret", &"<redacted>")
            .field("passphrase", &"<redacted>")
            .finish()
    }
}

impl Serialize for ApiCredentials {
    /// The reply body of `/auth/api-key` and `/auth/derive-api-key`:
    /// `{"apiKey": uuid, "secret": ..., "passphrase": ...}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("ApiCredentials", 3)?;
        st.serialize_field("apiKey", &self.api_key)?;
        st.serialize_field("secret", &self.secret)?;
        st.serialize_field("passphrase", &self.passphrase)?;
        st.end()
    }
}

/// One issued key: who owns it, which nonce slot, and its credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub address: Address,
    pub nonce: U256,
    credentials: ApiCredentials,
    /// The decoded secret, the HMAC key, kept so each request skips a decode.
    hmac_key: Vec<u8>,
}

impl ApiKeyRecord {
    /// A record for credentials issued elsewhere (fixtures, imports).
    pub fn new(address: Address, nonce: U256, credentials: ApiCredentials) -> Result<ApiKeyRecord, KeyStoreError> {
        let hmac_key = decode_secret(&credentials.secret)?;
        Ok(ApiKeyRecord { address, nonce, credentials, hmac_key })
    }

    pub fn api_key(&self) -> Uuid {
        self.credentials.api_key
    }

    pub fn credentials(&self) -> &ApiCredentials {
        &self.credentials
    }

    pub(crate) fn hmac_key(&self) -> &[u8] {
        &self.hmac_key
    }
}

impl fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("address", &self.address)
            .field("nonce", &self.nonce)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Decodes a URL-safe base64 secret the way the official clients do.
pub(crate) fn decode_secret(secret: &str) -> Result<Vec<u8>, KeyStoreError> {
    URL_SAFE.decode(secret).map_err(|_| KeyStoreError::MalformedSecret)
}

/// Every API key the simulator has issued.
pub struct ApiKeyStore {
    seed: ServerSeed,
    by_key: HashMap<Uuid, ApiKeyRecord>,
    by_slot: HashMap<(Address, U256), Uuid>,
}

impl ApiKeyStore {
    pub fn new(seed: ServerSeed) -> ApiKeyStore {
        ApiKeyStore { seed, by_key: HashMap::new(), by_slot: HashMap::new() }
    }

    /// `POST /auth/api-key`: issues the key of (address, nonce). Fails, and
    /// changes nothing, if that slot already holds one.
    pub fn create(&mut self, address: Address, nonce: U256) -> Result<ApiCredentials, KeyStoreError> {
        if self.by_slot.contains_key(&(address, nonce)) {
            return Err(KeyStoreError::AlreadyExists);
        }
        let credentials = self.credentials_for(address, nonce);
        let record = ApiKeyRecord::new(address, nonce, credentials.clone())?;
        self.insert(record)?;
        Ok(credentials)
    }

    /// `GET /auth/derive-api-key`: the key already issued for (address, nonce).
    pub fn derive(&self, address: Address, nonce: U256) -> Result<ApiCredentials, KeyStoreError> {
        let key = self.by_slot.get(&(address, nonce)).ok_or(KeyStoreError::NotFound)?;
        Ok(self.by_key[key].credentials.clone())
    }

    /// Adds a record issued elsewhere; refuses a taken slot or key id.
    pub fn insert(&mut self, record: ApiKeyRecord) -> Result<(), KeyStoreError> {
        let slot = (record.address, record.nonce);
        if self.by_slot.contains_key(&slot) || self.by_key.contains_key(&record.api_key()) {
            return Err(KeyStoreError::AlreadyExists);
        }
        self.by_slot.insert(slot, record.api_key());
        self.by_key.insert(record.api_key(), record);
        Ok(())
    }

    /// The key with this id, for L2 verification.
    pub fn get(&self, api_key: &Uuid) -> Option<&ApiKeyRecord> {
        self.by_key.get(api_key)
    }

    /// `GET /auth/api-keys`: the ids of `address`'s keys, by nonce.
    pub fn keys_of(&self, address: Address) -> Vec<Uuid> {
        let mut owned: Vec<(U256, Uuid)> =
            self.by_key.values().filter(|r| r.address == address).map(|r| (r.nonce, r.api_key())).collect();
        owned.sort();
        owned.into_iter().map(|(_, key)| key).collect()
    }

    /// `DELETE /auth/api-key`: removes a key. Its slot can be created again,
    /// and yields the same credentials (they depend on the seed alone).
    pub fn delete(&mut self, api_key: &Uuid) -> Result<ApiKeyRecord, KeyStoreError> {
        let record = self.by_key.remove(api_key).ok_or(KeyStoreError::UnknownKey)?;
        self.by_slot.remove(&(record.address, record.nonce));
        Ok(record)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The deterministic credentials of (address, nonce) under this seed.
    fn credentials_for(&self, address: Address, nonce: U256) -> ApiCredentials {
        let key_bytes = self.derive_bytes(b"key", address, nonce);
        let mut uuid_bytes = [0u8; 16];
        uuid_bytes.copy_from_slice(&key_bytes[..16]);
        ApiCredentials {
            api_key: uuid::Builder::from_random_bytes(uuid_bytes).into_uuid(),
            secret: URL_SAFE.encode(self.derive_bytes(b"secret", address, nonce)),
            passphrase: hex::encode(self.derive_bytes(b"passphrase", address, nonce)),
        }
    }

    /// HMAC-SHA256(seed, label || purpose || 0 || address || nonce): one
    /// independent 32-byte value per purpose and slot.
    fn derive_bytes(&self, purpose: &[u8], address: Address, nonce: U256) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.seed.0).expect("HMAC takes any key length");
        mac.update(b"pmbot-sim/api-key/v1/");
        mac.update(purpose);
        mac.update(&[0]);
        mac.update(address.as_slice());
        mac.update(&nonce.to_be_bytes::<32>());
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for ApiKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyStore").field("keys", &self.by_key.len()).finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
