//! The amounts the gateway signs are ones the real CLOB accepts.
//!
//! The exchange's rules, written here from the sources rather than taken
//! from `pmbot_core::order_amounts`, so a mistake there fails here:
//! - market orders (FOK, FAK): BUY maker (pUSD) at most 2 decimals and taker
//!   (shares) at most 4, whatever the tick (HTTP 400 `invalid amounts, the
//!   market buy orders maker amount supports a max accuracy of 2 decimals,
//!   taker amount a max of 4 decimals`: rs-clob-client #114,
//!   rs-clob-client-v2 #59, py-clob-client-v2 #99); SELL maker (shares) 2,
//!   taker (pUSD) 4 (rs-clob-client PR #164, py-clob-client #121);
//! - limit orders (GTC, GTD): the pUSD amount at most tick decimals + 2, the
//!   shares 2 (py-clob-client #305 on a 0.01 tick, clob-client #124 on a
//!   0.001 tick; the clients' `ROUNDING_CONFIG`);
//! - the order's price, maker / taker, never beyond the limit: a BUY pays at
//!   most the limit per share, a SELL gets at least it.

use crate::gateway_support;

use std::str::FromStr as _;
use std::sync::LazyLock;

use alloy::signers::Signer as _;
use gateway_support::*;
use pmbot_core::events::{DecisionContext, OrderIntent, OrderType};
use pmbot_core::order_amounts::size_order;
use pmbot_core::{ClientOrderId, Price, Side, Size, Sizing, TickSize, TimestampMs, TokenId};
use pmbot_sim::SimHandle;
use pmbot_venue::gateway::order::{SdkClient, build_and_sign};
use pmbot_venue::gateway::{GatewayError, MemoryOrderLog, Refusal};
use polymarket_client_sdk_v2::POLYGON;
use polymarket_client_sdk_v2::clob::types::TickSize as SdkTick;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

struct Signing {
    rt: tokio::runtime::Runtime,
    sdk: SdkClient,
    signer: alloy_signer_local::Secp256k1Signer,
    token: TokenId,
    _sim: SimHandle,
}

/// One simulator and one signed-in SDK client for every case: the SDK asks
/// the exchange for the protocol version and the neg-risk flag once; the
/// tick is set per case in its cache.
static SIGNING: LazyLock<Signing> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (sim, sdk, signer) = rt.block_on(async {
        let sim = start_sim(quiet_sim(1)).await;
        let signer = alloy_signer_local::Secp256k1Signer::from_str(KEYS[0]).unwrap().with_chain_id(Some(POLYGON));
        let mut sdk = polymarket_client_sdk_v2::clob::Client::new(&sim.rest_url(), Default::default())
            .unwrap()
            .authentication_builder(&signer)
            .authenticate()
            .await
            .unwrap();
        let _ = sdk.stop_heartbeats().await;
        (sim, sdk, signer)
    });
    let token = tokens(&sim)[0].0.clone();
    Signing { rt, sdk, signer, token, _sim: sim }
});

fn sdk_tick(t: TickSize) -> SdkTick {
    match t {
        TickSize::Tenth => SdkTick::Tenth,
        TickSize::Hundredth => SdkTick::Hundredth,
        TickSize::HalfHundredth => SdkTick::HalfCent,
        TickSize::QuarterHundredth => SdkTick::QuarterCent,
        TickSize::Thousandth => SdkTick::Thousandth,
        TickSize::TenThousandth => SdkTick::TenThousandth,
    }
}

/// Decimals of an amount in the chain's 6-decimal units.
fn decimals(micros: u128) -> u32 {
    (0..=6).find(|d| micros.is_multiple_of(10u128.pow(6 - d))).expect("six decimals at most")
}

/// (maker, taker) decimal caps, as the exchange states them.
fn caps(order_type: OrderType, side: Side, tick: TickSize) -> (u32, u32) {
    let limit_usd = tick.decimals() + 2;
    match (order_type.rests(), side) {
        (false, _) => (2, 4),
        (true, Side::Buy) => (limit_usd, 2),
        (true, Side::Sell) => (2, limit_usd),
    }
}

fn on_grid() -> impl Strategy<Value = (TickSize, Price)> {
    proptest::sample::select(TickSize::ALL.to_vec()).prop_flat_map(|tick| {
        let last = tick.max_price().pips() / tick.pips();
        (Just(tick), 1..=last).prop_map(|(tick, n)| (tick, Price::from_ticks(u32::from(n), tick).unwrap()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any price on any tick grid, any lot size, both sides, every time in
    /// force: the order the gateway signs (the intent cut to its exact
    /// amounts, as the strategy sizes it) is within the exchange's caps and
    /// at exactly its limit price.
    #[test]
    fn every_signed_order_is_within_the_caps_and_at_its_limit(
        (tick, price) in on_grid(),
        buy in any::<bool>(),
        order_type in proptest::sample::select(vec![OrderType::Fak, OrderType::Fok, OrderType::Gtc, OrderType::Gtd]),
        lots in 1u64..200_000,
    ) {
        let s = &*SIGNING;
        let side = if buy { Side::Buy } else { Side::Sell };
        let asked = Size::from_micros(lots * 10_000);
        let kind = pmbot_core::OrderKind::of(order_type);
        let amounts = match size_order(kind, side, price, tick, asked) {
            Sizing::Exact(a) | Sizing::Reduced { amounts: a, .. } => a,
            Sizing::TooSmall { .. } => return Ok(()),
        };
        let intent = OrderIntent {
            client_order_id: ClientOrderId::new("amounts").unwrap(),
            token: s.token.clone(),
            side,
            limit_price: price,
            size: amounts.shares,
            order_type,
            post_only: false,
            expires_at: (order_type == OrderType::Gtd).then_some(TimestampMs(4_000_000_000_000)),
            decision: DecisionContext::default(),
        };
        prop_assert_eq!(intent.validate(tick), Ok(amounts));
        let token = alloy_primitives::U256::from_str(s.token.as_str()).unwrap();
        s.sdk.set_tick_size(token, sdk_tick(tick));
        let signed = s
            .rt
            .block_on(build_and_sign(&s.sdk, &s.signer, &intent, &amounts, 137, false))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let body: serde_json::Value = serde_json::from_str(&signed.body).unwrap();
        let order = &body["order"];
        let amount = |k: &str| order[k].as_str().unwrap().parse::<u128>().unwrap();
        let (maker, taker) = (amount("makerAmount"), amount("takerAmount"));
        prop_assert_eq!(order["side"].as_str().unwrap(), if buy { "BUY" } else { "SELL" });
        prop_assert_eq!(body["orderType"].as_str().unwrap(), format!("{order_type:?}").to_uppercase());
        let (maker_cap, taker_cap) = caps(order_type, side, tick);
        prop_assert!(decimals(maker) <= maker_cap, "maker {} > {} decimals ({tick} {price} {order_type:?})", maker, maker_cap);
        prop_assert!(decimals(taker) <= taker_cap, "taker {} > {} decimals ({tick} {price} {order_type:?})", taker, taker_cap);
        // pUSD x 10^4 against shares x pips: the price per share in pips.
        let pips = u128::from(price.pips());
        let (usd, shares) = if buy { (maker, taker) } else { (taker, maker) };
        if buy {
            prop_assert!(usd * 10_000 <= shares * pips, "a BUY pays more than its limit");
        } else {
            prop_assert!(usd * 10_000 >= shares * pips, "a SELL gets less than its limit");
        }
        // Exactly the limit: anything under it would not cross an order at it.
        prop_assert_eq!(usd * 10_000, shares * pips);
        prop_assert!(Size::from_micros(u64::try_from(shares).unwrap()) <= asked);
    }
}

/// The order: a FAK BUY of 18.87 shares at 0.53 would sign 10.0011
/// pUSD, which the exchange refuses for a market order. The gateway refuses
/// it before anything is journaled or sent, naming the size it would take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fak_whose_amounts_the_exchange_would_refuse_is_never_sent() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("amounts");
        let log = MemoryOrderLog::new();
        let gw = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap().gateway;
        let (yes, _) = tokens(&sim)[0].clone();
        let mut fak = intent("a-1", &yes, Side::Buy, "0.53", 0);
        fak.size = Size::parse("18.87").unwrap();
        fak.order_type = OrderType::Fak;
        match gw.place(fak.clone()).await {
            Err(GatewayError::Refused(Refusal::Invalid(why))) => {
                assert!(why.contains("the largest exact size 18"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(accepted(&sim), 0);
        assert!(log.snapshot().sends.is_empty());
        // Cut to whole shares it goes, for 18 x 0.53 = 9.54 pUSD exactly (the
        // book is empty, so it kills unfilled: what matters is what was sent).
        fak.client_order_id = ClientOrderId::new("a-2").unwrap();
        fak.size = Size::from_shares(18);
        let _ = gw.place(fak).await;
        assert_eq!(log.snapshot().sends.len(), 1);
        let body: serde_json::Value = serde_json::from_str(&log.snapshot().sends[0].body).unwrap();
        assert_eq!(
            (body["order"]["makerAmount"].as_str(), body["order"]["takerAmount"].as_str()),
            (Some("9540000"), Some("18000000"))
        );
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}
