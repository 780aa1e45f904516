//! Building and signing an order through the official SDK, and its hash.
//!
//! Invariant: the hash is computed from the very payload that was signed, so
//! it is the exchange's orderID before anything is sent, and the body
//! journaled is the body posted, byte for byte. The amounts signed are the
//! exact ones pmbot computed ([`pmbot_core::order_amounts`]), checked after
//! the SDK built them: never the SDK's own rounding.
//!
//! Every order, FAK and FOK included, goes through the SDK's limit-order
//! builder: given a lot size and a price on the tick, it signs size x price
//! exactly (its truncation to tick decimals + 2 cuts nothing), which is the
//! exact pair pmbot sized. Its market-order builder would not do: it signs
//! `trunc(pUSD / price)` shares with tick decimals + 2 (5 on a 0.001 tick, which
//! the exchange refuses; py-clob-client-v2 #99), and that truncation moves the
//! order's price off its limit.

use std::str::FromStr as _;

use alloy::sol_types::{Eip712Domain, SolStruct as _};
use alloy_primitives::U256;
use alloy_signer_local::Secp256k1Signer;
use chrono::{DateTime, Utc};
use pmbot_core::events::{OrderIntent, OrderType};
use pmbot_core::{Hash32, OrderAmounts, OrderId, Price, Side};
use polymarket_client_sdk_v2::auth::Normal;
use polymarket_client_sdk_v2::auth::state::Authenticated;
use polymarket_client_sdk_v2::clob::Client;
use polymarket_client_sdk_v2::clob::types::{OrderPayload, OrderType as SdkOrderType, OrderV2, Side as SdkSide};

pub type SdkClient = Client<Authenticated<Normal>>;

/// The EIP-712 domain name of every Polymarket exchange.
pub const EXCHANGE_DOMAIN_NAME: &str = "Polymarket CTF Exchange";
/// The domain version of CLOB V2 (CTF Exchange V2) orders.
pub const EXCHANGE_DOMAIN_VERSION: &str = "2";

/// A signed order ready to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBody {
    pub hash: OrderId,
    pub salt: u64,
    pub body: String,
    pub price: Price,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("the SDK refused to build or sign: {0}")]
    Sdk(String),
    #[error("no V2 exchange contract for chain {chain_id} (neg_risk {neg_risk})")]
    NoExchange { chain_id: u64, neg_risk: bool },
    #[error("the server's protocol is not V2 (payload version {0})")]
    NotV2(u32),
    #[error("salt does not fit in 64 bits")]
    Salt,
    #[error("building took longer than the request timeout")]
    Timeout,
    /// The SDK built other amounts than the exact ones asked for (a change
    /// in its rounding): nothing is signed.
    #[error("the SDK built maker {built_maker} / taker {built_taker}, not the exact {maker} / {taker}")]
    Amounts { maker: u64, taker: u64, built_maker: String, built_taker: String },
}

/// The exchange's orderID of a V2 order: `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(order))`.
pub fn order_hash(order: &OrderV2, chain_id: u64, neg_risk: bool) -> Result<OrderId, BuildError> {
    let exchange = polymarket_client_sdk_v2::contract_config(chain_id, neg_risk)
        .and_then(|c| c.exchange_v2)
        .ok_or(BuildError::NoExchange { chain_id, neg_risk })?;
    let domain = Eip712Domain {
        name: Some(EXCHANGE_DOMAIN_NAME.into()),
        version: Some(EXCHANGE_DOMAIN_VERSION.into()),
        chain_id: Some(U256::from(chain_id)),
        verifying_contract: Some(exchange),
        salt: None,
    };
    Ok(Hash32(order.eip712_signing_hash(&domain).0))
}

fn sdk_side(s: Side) -> SdkSide {
    match s {
        Side::Buy => SdkSide::Buy,
        Side::Sell => SdkSide::Sell,
    }
}

fn sdk_order_type(t: OrderType) -> SdkOrderType {
    match t {
        OrderType::Gtc => SdkOrderType::GTC,
        OrderType::Gtd => SdkOrderType::GTD,
        OrderType::Fok => SdkOrderType::FOK,
        OrderType::Fak => SdkOrderType::FAK,
    }
}

/// Builds the intent's order with `amounts` (exact, from
/// [`OrderIntent::validate`] or a resize on a new tick) through the SDK's
/// order builder (which checks the price against its tick cache), signs it,
/// hashes it and serializes the body. `defer_exec` is always set: without it
/// the SDK's post would poll for settlement for up to 30 s.
pub async fn build_and_sign(
    sdk: &SdkClient,
    signer: &Secp256k1Signer,
    intent: &OrderIntent,
    amounts: &OrderAmounts,
    chain_id: u64,
    neg_risk: bool,
) -> Result<SignedBody, BuildError> {
    let sdk_err = |e: polymarket_client_sdk_v2::error::Error| BuildError::Sdk(e.to_string());
    let token = U256::from_str(intent.token.as_str()).map_err(|e| BuildError::Sdk(e.to_string()))?;
    let mut builder = sdk
        .limit_order()
        .token_id(token)
        .price(amounts.price.to_decimal())
        .size(amounts.shares.to_decimal())
        .side(sdk_side(intent.side))
        .order_type(sdk_order_type(intent.order_type))
        .defer_exec(true);
    if intent.order_type.rests() {
        builder = builder.post_only(intent.post_only);
    }
    if let Some(at) = intent.expires_at {
        let when: DateTime<Utc> = DateTime::from_timestamp_millis(at.millis())
            .ok_or_else(|| BuildError::Sdk(format!("expiry {at} is out of range")))?;
        builder = builder.expiration(when);
    }
    let signable = builder.build().await.map_err(sdk_err)?;
    let built = match &signable.payload {
        OrderPayload::V2(p) => &p.order,
        other => return Err(BuildError::NotV2(other.version())),
    };
    let (maker, taker) = (amounts.maker(), amounts.taker());
    if built.makerAmount != U256::from(maker) || built.takerAmount != U256::from(taker) {
        return Err(BuildError::Amounts {
            maker,
            taker,
            built_maker: built.makerAmount.to_string(),
            built_taker: built.takerAmount.to_string(),
        });
    }
    let signed = sdk.sign(signer, signable).await.map_err(sdk_err)?;
    let order = match &signed.payload {
        OrderPayload::V2(p) => &p.order,
        other => return Err(BuildError::NotV2(other.version())),
    };
    let hash = order_hash(order, chain_id, neg_risk)?;
    let salt = u64::try_from(order.salt).map_err(|_| BuildError::Salt)?;
    let body = serde_json::to_string(&signed).map_err(|e| BuildError::Sdk(e.to_string()))?;
    Ok(SignedBody { hash, salt, body, price: amounts.price })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The all-zero V2 order of the SDK's own test, chain 137, binary market
    /// (research/test-vectors.md §4a).
    #[test]
    fn hash_of_the_reference_order() {
        let h = order_hash(&OrderV2::default(), 137, false).unwrap();
        assert_eq!(h.to_string(), "0xd07306d5c36c7023456b3218dafb72d322ca92d67353d6e10be3be3c991ca2e5");
        assert_ne!(order_hash(&OrderV2::default(), 137, true).unwrap(), h, "neg-risk has its own exchange");
        assert!(matches!(order_hash(&OrderV2::default(), 1, false), Err(BuildError::NoExchange { .. })));
    }
}
