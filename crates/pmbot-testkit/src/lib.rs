//! Test-only harness shared by every pmbot crate's tests (never shipped:
//! `publish = false`, and only ever a dev-dependency).
//!
//! Invariant: a test that needs a real chain either gets one it owns alone (a
//! fresh anvil on a free loopback port, killed when the handle drops) or a
//! `None` and a printed NOTICE, so a fresh clone without anvil still passes
//! while CI, which sets `ANVIL_BIN`, can never skip silently.
//!
//! - [`Anvil`]: start/stop a node, plant the fixture contracts at Polymarket's
//!   addresses, fund, approve, mint outcome shares.
//! - [`ConditionalTokens`]: the real Gnosis contract, deployed from the npm
//!   package's artefact (redemption tests).
//! - [`fixtures`]: the checked-in runtime bytecode (see `fixtures/README.md`).
//! - [`CountingProxy`]: a loopback JSON-RPC proxy that records every method it
//!   forwards, so tests can prove a read was (not) served from a cache.
//! - [`OutageProxy`]: forwards to a node until a chosen method goes
//!   through, then fails that answer and the next few (an RPC outage).
//! - [`FakeRpc`]: a loopback server that answers whatever a test tells it to
//!   (garbage, errors, silence).
//! - [`journals`]: journals with a known trading record (the gate fixture).

mod anvil;
mod ctf;
pub mod fixtures;
pub mod journals;
mod rpc_fakes;

pub use anvil::{Anvil, AnvilError, find_anvil};
pub use ctf::{CTF_PACKAGE, ConditionalTokens, ctf_creation_code, find_ctf_artefact};
pub use rpc_fakes::{CountingProxy, FakeAnswer, FakeRpc, OutageProxy, closed_port_url};

/// Polymarket's Polygon addresses, as the fixtures are planted at them.
pub mod polygon {
    use alloy_primitives::{Address, address};

    /// pUSD, the V2 collateral (6 decimals).
    pub const COLLATERAL: Address = address!("0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB");
    /// Gnosis ConditionalTokens: the outcome tokens (ERC-1155).
    pub const CONDITIONAL_TOKENS: Address = address!("0x4D97DCd97eC945f40cF65F87097ACe5EA0476045");
    /// CTF Exchange V2.
    pub const EXCHANGE: Address = address!("0xE111180000d2663C0091e4f400237545B87B996B");
    /// Neg Risk CTF Exchange V2.
    pub const NEG_RISK_EXCHANGE: Address = address!("0xe2222d279d744050d28e00520010520000310F59");
    /// Neg Risk Adapter.
    pub const NEG_RISK_ADAPTER: Address = address!("0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296");
    /// Polygon's chain id.
    pub const CHAIN_ID: u64 = 137;

    /// The contract address lines of a `[balance]` table (collateral,
    /// conditional tokens, both exchanges, the adapter), for test configs.
    pub fn contracts_toml() -> String {
        format!(
            "collateral = \"{COLLATERAL}\"\nconditional_tokens = \"{CONDITIONAL_TOKENS}\"\nexchange = \"{EXCHANGE}\"\n\
             neg_risk_exchange = \"{NEG_RISK_EXCHANGE}\"\nneg_risk_adapter = \"{NEG_RISK_ADAPTER}\""
        )
    }
}
