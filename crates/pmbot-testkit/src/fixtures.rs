//! The compiled fixture contracts, checked in so tests need no compiler.
//!
//! Each constant is the contract's *runtime* bytecode (what `anvil_setCode`
//! places), `0x`-prefixed hex, exactly as `fixtures/compile.mjs` wrote it with
//! solc 0.8.37. `fixtures/README.md` has the command to recompile and compare.

/// `fixtures/MockCollateral.sol`: a 6-decimals ERC-20 (pUSD stand-in).
/// Storage: balanceOf @ slot 0, allowance @ slot 1, totalSupply @ slot 2.
pub const MOCK_COLLATERAL_RUNTIME: &str = include_str!("../fixtures/MockCollateral.runtime.hex");

/// `fixtures/MockConditionalTokens.sol`: the ERC-1155 reads pmbot makes, plus
/// an open `mint`. Storage: balances[id][account] @ slot 0, operator
/// approvals @ slot 1.
pub const MOCK_CONDITIONAL_TOKENS_RUNTIME: &str = include_str!("../fixtures/MockConditionalTokens.runtime.hex");

/// Storage slot of the ERC-20 `balanceOf` mapping in [`MOCK_COLLATERAL_RUNTIME`].
pub const COLLATERAL_BALANCES_SLOT: u64 = 0;
/// Storage slot of the ERC-20 `allowance` mapping in [`MOCK_COLLATERAL_RUNTIME`].
pub const COLLATERAL_ALLOWANCES_SLOT: u64 = 1;

/// The runtime bytecode without its `0x` and trailing newline.
pub fn hex_body(code: &str) -> &str {
    code.trim().trim_start_matches("0x")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_clean_hex_of_plausible_size() {
        for (name, code) in [("collateral", MOCK_COLLATERAL_RUNTIME), ("ctf", MOCK_CONDITIONAL_TOKENS_RUNTIME)] {
            let body = hex_body(code);
            assert!(code.starts_with("0x"), "{name}");
            assert_eq!(body.len() % 2, 0, "{name}: odd hex length");
            assert!(body.bytes().all(|b| b.is_ascii_hexdigit()), "{name}: not hex");
            // A real contract, not an empty or truncated file.
            assert!(body.len() / 2 > 300, "{name}: only {} bytes", body.len() / 2);
            // Compiled for cancun without metadata: no CBOR trailer (0xa1/0xa2 0x64 "ipfs"/"solc").
            assert!(!body.contains("64736f6c63"), "{name}: carries a solc metadata trailer");
        }
    }

    #[test]
    fn collateral_answers_the_erc20_selectors() {
        // The dispatcher compares the call's selector with each of its own, so
        // each must appear as a PUSH of its bytes (leading zero bytes dropped:
        // 0x00fdd58e is a PUSH3).
        fn push_of(sel: &str) -> String {
            let mut rest = sel;
            while let Some(r) = rest.strip_prefix("00") {
                rest = r;
            }
            format!("{:02x}{rest}", 0x5f + rest.len() / 2)
        }
        let body = hex_body(MOCK_COLLATERAL_RUNTIME);
        for sel in ["70a08231", "dd62ed3e", "095ea7b3", "313ce567", "a9059cbb", "23b872dd"] {
            assert!(body.contains(&push_of(sel)), "selector {sel} missing");
        }
        let body = hex_body(MOCK_CONDITIONAL_TOKENS_RUNTIME);
        for sel in ["00fdd58e", "e985e9c5", "a22cb465", "156e29f6"] {
            assert!(body.contains(&push_of(sel)), "selector {sel} missing");
        }
    }
}
