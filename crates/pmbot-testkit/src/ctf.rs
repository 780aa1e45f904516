//! The real Gnosis ConditionalTokens contract on anvil, from the compiled
//! artefact the npm package `@gnosis.pm/conditional-tokens-contracts` 1.0.3
//! ships (`build/contracts/ConditionalTokens.json`, solc 0.5.10): deployed
//! from its creation bytecode, so its constructor runs and every call is the
//! contract Polymarket's outcome tokens live in, not a fixture.
//!
//! Invariant: like [`crate::find_anvil`], a missing artefact is a `None` and a
//! printed NOTICE, unless `PMBOT_CTF_ARTEFACT` names it (CI sets it so the
//! redemption tests cannot skip there): then a missing or unreadable file
//! panics.

use std::path::{Path, PathBuf};

use alloy::sol_types::SolCall;
use alloy_primitives::{Address, B256, U256};

use crate::anvil::{Anvil, AnvilError};

/// The npm package and version `.ci/run` installs.
pub const CTF_PACKAGE: &str = "@gnosis.pm/conditional-tokens-contracts@1.0.3";
/// The artefact's path inside a `node_modules` folder.
const ARTEFACT_IN_MODULES: &str = "@gnosis.pm/conditional-tokens-contracts/build/contracts/ConditionalTokens.json";

mod calls {
    alloy::sol! {
        function prepareCondition(address oracle, bytes32 questionId, uint256 outcomeSlotCount);
        function reportPayouts(bytes32 questionId, uint256[] payouts);
        function splitPosition(address collateralToken, bytes32 parentCollectionId, bytes32 conditionId, uint256[] partition, uint256 amount);
        function getConditionId(address oracle, bytes32 questionId, uint256 outcomeSlotCount) returns (bytes32);
        function getCollectionId(bytes32 parentCollectionId, bytes32 conditionId, uint256 indexSet) returns (bytes32);
        function getPositionId(address collateralToken, bytes32 collectionId) returns (uint256);
        function balanceOf(address owner, uint256 id) returns (uint256);
        function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes data);
    }
}

/// Where the artefact is: `PMBOT_CTF_ARTEFACT` (must exist when set), then
/// `<repo>/.ci/node_modules` and `<repo>/node_modules`.
pub fn find_ctf_artefact() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PMBOT_CTF_ARTEFACT").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "PMBOT_CTF_ARTEFACT={} is not a file", path.display());
        return Some(path);
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [repo.join(".ci/node_modules"), repo.join("node_modules")]
        .into_iter()
        .map(|m| m.join(ARTEFACT_IN_MODULES))
        .find(|p| p.is_file())
}

/// The contract's creation bytecode (`0x`-hex), or `None` after a NOTICE.
pub fn ctf_creation_code() -> Option<String> {
    let Some(path) = find_ctf_artefact() else {
        eprintln!(
            "NOTICE: the ConditionalTokens artefact was not found (PMBOT_CTF_ARTEFACT, .ci/node_modules, \
             node_modules); skipping this test. Install it with: npm install --no-save --prefix .ci {CTF_PACKAGE}"
        );
        return None;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let code = json["bytecode"].as_str().unwrap_or_else(|| panic!("{}: no bytecode", path.display()));
    // Linked libraries would leave `__Name__` placeholders: CTHelpers is
    // internal, so there must be none.
    assert!(code.starts_with("0x") && !code.contains("__"), "{}: not linked creation code", path.display());
    Some(code.to_owned())
}

/// A deployed ConditionalTokens and the calls a test makes on it (each sent
/// as its real sender: the oracle reports, the holder splits).
#[derive(Debug, Clone, Copy)]
pub struct ConditionalTokens {
    pub address: Address,
}

fn word(out: &[u8]) -> Result<B256, AnvilError> {
    out.get(..32)
        .map(B256::from_slice)
        .ok_or_else(|| AnvilError::Rpc { method: "eth_call".into(), detail: format!("{} bytes", out.len()) })
}

impl ConditionalTokens {
    /// Deploys the contract from `creation` (see [`ctf_creation_code`]).
    pub async fn deploy(anvil: &Anvil, creation: &str) -> Result<ConditionalTokens, AnvilError> {
        let address = anvil.deploy(Address::repeat_byte(0xde), creation).await?;
        Ok(ConditionalTokens { address })
    }

    /// Prepares a binary condition of `oracle` on `question`; its id, as the
    /// contract computes it.
    pub async fn prepare_binary(&self, anvil: &Anvil, oracle: Address, question: B256) -> Result<B256, AnvilError> {
        let two = U256::from(2u8);
        let prepare = calls::prepareConditionCall { oracle, questionId: question, outcomeSlotCount: two };
        anvil.send_as(oracle, self.address, prepare.abi_encode()).await?;
        let id = calls::getConditionIdCall { oracle, questionId: question, outcomeSlotCount: two };
        word(&anvil.call(self.address, &id.abi_encode()).await?)
    }

    /// `holder` approves the contract for `amount` of `collateral` and splits
    /// it into `amount` shares of each outcome (index sets 1 and 2).
    pub async fn split(
        &self,
        anvil: &Anvil,
        holder: Address,
        collateral: Address,
        condition: B256,
        amount: U256,
    ) -> Result<(), AnvilError> {
        anvil.approve_erc20(collateral, holder, self.address, amount).await?;
        let split = calls::splitPositionCall {
            collateralToken: collateral,
            parentCollectionId: B256::ZERO,
            conditionId: condition,
            partition: vec![U256::from(1u8), U256::from(2u8)],
            amount,
        };
        anvil.send_as(holder, self.address, split.abi_encode()).await
    }

    /// The oracle reports `payouts` (e.g. `[1, 0]`: outcome 0 won).
    pub async fn report(
        &self,
        anvil: &Anvil,
        oracle: Address,
        question: B256,
        payouts: [u64; 2],
    ) -> Result<(), AnvilError> {
        let report = calls::reportPayoutsCall {
            questionId: question,
            payouts: payouts.iter().map(|p| U256::from(*p)).collect(),
        };
        anvil.send_as(oracle, self.address, report.abi_encode()).await
    }

    /// The ERC-1155 ids of the condition's two outcomes on `collateral`.
    pub async fn position_ids(
        &self,
        anvil: &Anvil,
        collateral: Address,
        condition: B256,
    ) -> Result<[U256; 2], AnvilError> {
        let mut ids = [U256::ZERO; 2];
        for (i, index_set) in [1u8, 2].into_iter().enumerate() {
            let collection = calls::getCollectionIdCall {
                parentCollectionId: B256::ZERO,
                conditionId: condition,
                indexSet: U256::from(index_set),
            };
            let collection = word(&anvil.call(self.address, &collection.abi_encode()).await?)?;
            let position = calls::getPositionIdCall { collateralToken: collateral, collectionId: collection };
            ids[i] = word(&anvil.call(self.address, &position.abi_encode()).await?)?.into();
        }
        Ok(ids)
    }

    /// `holder`'s shares of position `id` (6 decimals, like pUSD).
    pub async fn balance(&self, anvil: &Anvil, holder: Address, id: U256) -> Result<U256, AnvilError> {
        let call = calls::balanceOfCall { owner: holder, id };
        Ok(word(&anvil.call(self.address, &call.abi_encode()).await?)?.into())
    }

    /// `from` gives `amount` shares of position `id` to `to`.
    pub async fn transfer(
        &self,
        anvil: &Anvil,
        from: Address,
        to: Address,
        id: U256,
        amount: U256,
    ) -> Result<(), AnvilError> {
        let call = calls::safeTransferFromCall { from, to, id, value: amount, data: Default::default() };
        anvil.send_as(from, self.address, call.abi_encode()).await
    }
}
