//! Fixed inputs shared by the auth tests (test-vectors.md, "Common inputs").

use alloy::primitives::{Address, address};
use alloy::signers::local::PrivateKeySigner;

/// Foundry/Anvil account #0: a publicly known key, never funded anywhere real.
pub const ANVIL0_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
pub const ANVIL0: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");

/// URL-safe base64 of 32 zero bytes: the secret of the official SDK tests.
pub const ZERO_SECRET: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
pub const A_PASSPHRASE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

pub const POLYGON: u64 = 137;
pub const AMOY: u64 = 80002;

pub fn anvil0() -> PrivateKeySigner {
    ANVIL0_KEY.parse().expect("valid test key")
}

/// Account #1 of the same mnemonic, a second wallet for mismatch tests.
pub fn anvil1() -> PrivateKeySigner {
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d".parse().expect("valid test key")
}
