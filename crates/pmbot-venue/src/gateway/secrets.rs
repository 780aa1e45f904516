//! The private key: where it comes from and how it is kept.
//!
//! Invariant: key material lives in `secrecy` types until it becomes the
//! signer, and no error, `Debug` or `Display` ever contains it. Errors name
//! where the key came from (the variable, the file's path), never its text.
//!
//! The key comes from `PMBOT_PRIVATE_KEY`, or else from a key file that only
//! its owner can read (mode 0600 or stricter): a key file others can read is
//! refused, because anyone on the machine could then empty the wallet.

use std::path::{Path, PathBuf};

use alloy_signer_local::Secp256k1Signer;
use secrecy::{ExposeSecret, SecretString};

/// The environment variable holding the private key (hex, `0x` optional).
pub const PRIVATE_KEY_ENV: &str = "PMBOT_PRIVATE_KEY";

/// Where the key was read from (safe to print).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env,
    File(PathBuf),
    /// Handed over by the caller (tests, a parent process).
    Given,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => write!(f, "${PRIVATE_KEY_ENV}"),
            KeySource::File(p) => write!(f, "key file {}", p.display()),
            KeySource::Given => f.write_str("the given key"),
        }
    }
}

/// Why no signer could be made. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no private key: set {PRIVATE_KEY_ENV} or configure gateway.key_file")]
    Missing,
    #[error("cannot read key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("key file {path} can be read by group or others (mode {mode:04o}); make it owner-only: chmod 600 {path}")]
    Permissive { path: PathBuf, mode: u32 },
    #[error("the private key from {from} is not 32 bytes of hex")]
    Malformed { from: KeySource },
}

/// A private key read but not yet turned into a signer.
pub struct PrivateKey {
    secret: SecretString,
    source: KeySource,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey(from {}, [REDACTED])", self.source)
    }
}

impl PrivateKey {
    /// A key handed over by the caller.
    pub fn given(secret: SecretString) -> PrivateKey {
        PrivateKey { secret, source: KeySource::Given }
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// Reads the key from `PMBOT_PRIVATE_KEY`, else from `file`.
    pub fn load(file: Option<&Path>) -> Result<PrivateKey, SecretError> {
        let env = std::env::var(PRIVATE_KEY_ENV).ok().filter(|v| !v.trim().is_empty());
        PrivateKey::load_from(env.map(SecretString::from), file)
    }

    /// As [`PrivateKey::load`], with the variable's value passed in.
    pub fn load_from(env: Option<SecretString>, file: Option<&Path>) -> Result<PrivateKey, SecretError> {
        if let Some(secret) = env {
            return Ok(PrivateKey { secret, source: KeySource::Env });
        }
        let path = file.ok_or(SecretError::Missing)?;
        check_owner_only(path)?;
        let text =
            std::fs::read_to_string(path).map_err(|source| SecretError::Io { path: path.to_path_buf(), source })?;
        Ok(PrivateKey { secret: SecretString::from(text), source: KeySource::File(path.to_path_buf()) })
    }

    /// The key's address (the EOA).
    pub fn address(&self) -> Result<alloy_primitives::Address, SecretError> {
        Ok(alloy::signers::Signer::address(&self.signer(1)?))
    }

    /// The signer for `chain_id` (libsecp256k1).
    pub fn signer(&self, chain_id: u64) -> Result<Secp256k1Signer, SecretError> {
        let malformed = || SecretError::Malformed { from: self.source.clone() };
        let text = self.secret.expose_secret().trim();
        let hex_text = text.strip_prefix("0x").unwrap_or(text);
        if hex_text.len() != 64 {
            return Err(malformed());
        }
        let mut bytes = zeroizing_bytes();
        hex::decode_to_slice(hex_text, &mut bytes.0).map_err(|_| malformed())?;
        let signer = Secp256k1Signer::from_slice(&bytes.0).map_err(|_| malformed())?;
        Ok(alloy::signers::Signer::with_chain_id(signer, Some(chain_id)))
    }
}

/// 32 bytes wiped when dropped.
struct KeyBytes([u8; 32]);

impl Drop for KeyBytes {
    fn drop(&mut self) {
        self.0.fill(0);
        // Keeps the wipe from being optimised away as a dead store.
        std::hint::black_box(&self.0);
    }
}

fn zeroizing_bytes() -> KeyBytes {
    KeyBytes([0; 32])
}

#[cfg(unix)]
fn check_owner_only(path: &Path) -> Result<(), SecretError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|source| SecretError::Io { path: path.to_path_buf(), source })?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SecretError::Permissive { path: path.to_path_buf(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(path: &Path) -> Result<(), SecretError> {
    std::fs::metadata(path).map(|_| ()).map_err(|source| SecretError::Io { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

    fn temp_file(name: &str, text: &str, mode: u32) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pmbot-secrets-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("key");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn env_wins_and_gives_the_anvil_address() {
        let k = PrivateKey::load_from(Some(SecretString::from(KEY.to_owned())), None).unwrap();
        assert_eq!(k.source(), &KeySource::Env);
        let s = k.signer(137).unwrap();
        assert_eq!(s.address().to_string(), ADDRESS);
        assert_eq!(s.chain_id(), Some(137));
        assert!(!format!("{k:?}").contains(&KEY[2..10]));
        assert!(!format!("{s:?}").contains(&KEY[2..10]), "the signer's Debug hides the key");
    }

    #[test]
    fn an_owner_only_file_is_read() {
        let p = temp_file("ok", &format!("{}\n", &KEY[2..]), 0o600);
        let k = PrivateKey::load_from(None, Some(&p)).unwrap();
        assert_eq!(k.source(), &KeySource::File(p.clone()));
        assert_eq!(k.signer(137).unwrap().address().to_string(), ADDRESS);
        let p = temp_file("ro", KEY, 0o400);
        assert!(PrivateKey::load_from(None, Some(&p)).is_ok());
    }

    #[test]
    fn a_file_others_can_read_is_refused_by_path_not_content() {
        for (name, mode) in [("g", 0o640), ("o", 0o604), ("all", 0o644)] {
            let p = temp_file(name, KEY, mode);
            let err = PrivateKey::load_from(None, Some(&p)).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, SecretError::Permissive { .. }), "{text}");
            assert!(text.contains(&p.display().to_string()) && text.contains("chmod 600"), "{text}");
            assert!(!text.contains(&KEY[2..10]), "{text}");
        }
    }

    #[test]
    fn malformed_keys_name_the_source_only() {
        let bad = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ffZZ";
        let k = PrivateKey::load_from(Some(SecretString::from(bad.to_owned())), None).unwrap();
        let text = k.signer(137).unwrap_err().to_string();
        assert_eq!(text, format!("the private key from ${PRIVATE_KEY_ENV} is not 32 bytes of hex"));
        let p = temp_file("short", "0x1234", 0o600);
        let text = PrivateKey::load_from(None, Some(&p)).unwrap().signer(137).unwrap_err().to_string();
        assert!(text.contains("key file") && !text.contains("1234"), "{text}");
        assert!(matches!(PrivateKey::load_from(None, None), Err(SecretError::Missing)));
        let missing = PathBuf::from("/nonexistent/pmbot/key");
        assert!(matches!(PrivateKey::load_from(None, Some(&missing)), Err(SecretError::Io { .. })));
    }
}
