//! The private key and the kill switch.

use std::path::Path;

use alloy_primitives::Address;

use super::{Check, Checks};
use crate::gateway::{GatewayConfig, PrivateKey, SecretError};

/// The private key: where it comes from, that it parses, and that a key
/// file is owner-only (checked even when the environment supplies the key:
/// a readable file still exposes it).
pub fn key_check(gateway: &GatewayConfig, checks: &mut Checks) -> Option<Address> {
    let loaded = PrivateKey::load(gateway.key_file.as_deref());
    let mut exposed = None;
    if let (Ok(k), Some(path)) = (&loaded, &gateway.key_file)
        && *k.source() == crate::gateway::KeySource::Env
        && let Some(mode) = group_or_other_bits(path)
    {
        exposed = Some((path.clone(), mode));
    }
    let result = loaded.and_then(|k| k.address().map(|a| (k.source().to_string(), a)));
    match (result, exposed) {
        (Ok((from, address)), None) => {
            checks.add(Check::pass("key", format!("from {from}, address {address:#x}")));
            Some(address)
        }
        (Ok(_), Some((path, mode))) => {
            checks.add(Check::fail(
                "key",
                format!("key file {} can be read by group or others (mode {mode:04o})", path.display()),
                format!("chmod 600 {}", path.display()),
            ));
            None
        }
        (Err(e), _) => {
            let fix = match &e {
                SecretError::Missing => {
                    "export PMBOT_PRIVATE_KEY, or set [gateway] key_file to an owner-only file".to_owned()
                }
                SecretError::Permissive { path, .. } => format!("chmod 600 {}", path.display()),
                SecretError::Io { .. } => "check the path in [gateway] key_file and that pmbot may read it".to_owned(),
                SecretError::Malformed { .. } => "the key must be 32 bytes of hex (64 digits, 0x optional)".to_owned(),
            };
            let detail = match &e {
                // Its message carries the fix as well; the fix line has it.
                SecretError::Permissive { path, mode } => {
                    format!("key file {} can be read by group or others (mode {mode:04o})", path.display())
                }
                other => other.to_string(),
            };
            checks.add(Check::fail("key", detail, fix));
            None
        }
    }
}

#[cfg(unix)]
fn group_or_other_bits(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn group_or_other_bits(_: &Path) -> Option<u32> {
    None
}

pub fn kill_switch_check(path: &Path) -> Check {
    if !path.exists() {
        return Check::pass("kill switch", format!("absent ({})", path.display()));
    }
    // The file's first line says who set it and when (`pmbot kill` writes it).
    let said = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.lines().next().map(|l| l.chars().take(120).collect::<String>()))
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!(": {l}"))
        .unwrap_or_default();
    Check::fail(
        "kill switch",
        format!("present at {}{said}; no order will be sent", path.display()),
        "`pmbot unkill` after checking why it was set",
    )
}
