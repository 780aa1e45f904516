//! The balance pre-check against a real chain (anvil, skipped with a NOTICE
//! when it is not installed) and against loopback servers that misbehave.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use alloy::primitives::{Address, U256, address};
use pmbot_core::{Clock, ManualClock, Size, TokenId, Usdc};
use pmbot_testkit::{Anvil, CountingProxy, FakeAnswer, FakeRpc, closed_port_url, polygon};
use pmbot_venue::balance::{
    BalanceAlert, BalanceConfig, BalanceReader, BuyRequest, ContractRole, EndpointError, Headroom, MarketKind, Refusal,
    SellRequest, Verdict,
};
use serde_json::json;

/// Anvil's account #1: the funder in these tests.
const FUNDER: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
/// An outcome-token id as the exchange writes them.
const TOKEN: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const START_MS: i64 = 1_760_000_000_000;

fn usdc(s: &str) -> Usdc {
    Usdc::parse(s).unwrap()
}

/// `s` pUSD (or shares) in on-chain base units.
fn units(s: &str) -> U256 {
    U256::from(usdc(s).micros())
}

fn token() -> TokenId {
    TokenId::parse(TOKEN).unwrap()
}

fn token_word() -> U256 {
    U256::from_str_radix(TOKEN, 10).unwrap()
}

fn config(urls: &[&str]) -> BalanceConfig {
    BalanceConfig {
        rpc_urls: urls.iter().map(|u| (*u).to_owned()).collect(),
        call_timeout: Duration::from_secs(3),
        attempts: 2,
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(20),
        ..BalanceConfig::default()
    }
}

fn reader(urls: &[&str], clock: &Arc<ManualClock>) -> BalanceReader {
    let clock: Arc<dyn Clock> = clock.clone();
    BalanceReader::new(config(urls), FUNDER, clock).unwrap()
}

fn buy(market: MarketKind, cost: &str, fees: &str, open: &str) -> BuyRequest {
    BuyRequest::new(market, usdc(cost), usdc(fees), usdc(open)).unwrap()
}

fn sell(market: MarketKind, size: &str, open: &str) -> SellRequest {
    SellRequest::new(market, token(), Size::parse(size).unwrap(), Size::parse(open).unwrap()).unwrap()
}

/// Anvil on chain 137 with both fixtures planted and the funder holding
/// `balance` pUSD with an unlimited allowance to the CTF Exchange.
async fn chain(balance: &str) -> Option<Anvil> {
    let anvil = Anvil::start()?;
    anvil.plant_polymarket().await.unwrap();
    anvil.deal_erc20(polygon::COLLATERAL, FUNDER, units(balance)).await.unwrap();
    anvil.set_erc20_allowance(polygon::COLLATERAL, FUNDER, polygon::EXCHANGE, U256::MAX).await.unwrap();
    Some(anvil)
}

fn failure_of(v: &Verdict) -> &pmbot_venue::balance::ReadFailure {
    match v {
        Verdict::Refused(Refusal::Unavailable { failure }) => failure,
        other => panic!("expected an Unavailable refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn buy_within_balance_is_allowed_and_above_it_refused() {
    let Some(anvil) = chain("100").await else { return };
    let clock = Arc::new(ManualClock::new(START_MS));
    let r = reader(&[anvil.url()], &clock);

    // cost + fees + open buys = exactly the balance.
    let v = r.check_buy(&buy(MarketKind::Standard, "60", "0.5", "39.5")).await;
    assert_eq!(v, Verdict::Allowed(Headroom::Collateral { balance: usdc("100"), required: usdc("100") }));

    // One micro-pUSD more is refused, with every number in the refusal.
    let v = r.check_buy(&buy(MarketKind::Standard, "60.000001", "0.5", "39.5")).await;
    let refusal = v.refusal().expect("refused");
    assert_eq!(
        refusal,
        &Refusal::InsufficientBalance {
            balance: usdc("100"),
            required: usdc("100.000001"),
            cost: usdc("60.000001"),
            fees: usdc("0.5"),
            open_buys: usdc("39.5"),
        }
    );
    assert!(!refusal.needs_alert());
    // Open buy commitments alone can make the difference.
    assert!(!r.check_buy(&buy(MarketKind::Standard, "1", "0", "99.5")).await.is_allowed());
    assert!(r.check_buy(&buy(MarketKind::Standard, "1", "0", "99")).await.is_allowed());

    let view = r.collateral(MarketKind::Standard).await.unwrap();
    assert_eq!(view.balance, units("100"));
    assert_eq!(view.allowances[0].1, U256::MAX);
    assert_eq!(
        view.to_string(),
        format!("pUSD balance of {FUNDER}: 100\n  allowance to CTF Exchange ({}): unlimited", polygon::EXCHANGE)
    );
}

#[tokio::test]
async fn too_low_allowance_is_its_own_refusal() {
    let Some(anvil) = chain("1000").await else { return };
    anvil.set_erc20_allowance(polygon::COLLATERAL, FUNDER, polygon::EXCHANGE, units("50")).await.unwrap();
    let clock = Arc::new(ManualClock::new(START_MS));
    let r = reader(&[anvil.url()], &clock);

    let v = r.check_buy(&buy(MarketKind::Standard, "60", "0", "0")).await;
    match v.refusal() {
        Some(Refusal::InsufficientAllowance { spender, allowance, required }) => {
            assert_eq!(spender.role, ContractRole::Exchange);
            assert_eq!(spender.address, polygon::EXCHANGE);
            assert_eq!((*allowance, *required), (usdc("50"), usdc("60")));
        }
        other => panic!("expected an allowance refusal, got {other:?}"),
    }
    assert!(v.refusal().unwrap().needs_alert());
    assert!(r.check_buy(&buy(MarketKind::Standard, "50", "0", "0")).await.is_allowed());

    // Neg-risk: the exchange alone is not enough; the adapter is named.
    anvil.set_erc20_allowance(polygon::COLLATERAL, FUNDER, polygon::EXCHANGE, U256::MAX).await.unwrap();
    anvil.approve_erc20(polygon::COLLATERAL, FUNDER, polygon::NEG_RISK_EXCHANGE, U256::MAX).await.unwrap();
    r.invalidate();
    assert!(r.check_buy(&buy(MarketKind::Standard, "60", "0", "0")).await.is_allowed());
    let v = r.check_buy(&buy(MarketKind::NegRisk, "60", "0", "0")).await;
    match v.refusal() {
        Some(Refusal::InsufficientAllowance { spender, allowance, .. }) => {
            assert_eq!(spender.role, ContractRole::NegRiskAdapter);
            assert_eq!(*allowance, Usdc::ZERO);
        }
        other => panic!("expected the adapter's allowance refusal, got {other:?}"),
    }
    anvil.approve_erc20(polygon::COLLATERAL, FUNDER, polygon::NEG_RISK_ADAPTER, U256::MAX).await.unwrap();
    r.invalidate();
    assert!(r.check_buy(&buy(MarketKind::NegRisk, "60", "0", "0")).await.is_allowed());
}

#[tokio::test]
async fn sells_need_shares_and_operator_approval() {
    let Some(anvil) = chain("0").await else { return };
    let clock = Arc::new(ManualClock::new(START_MS));
    let r = reader(&[anvil.url()], &clock);
    let ctf = polygon::CONDITIONAL_TOKENS;

    // No approval yet: refused for that, whatever the shares.
    let v = r.check_sell(&sell(MarketKind::Standard, "15", "5")).await;
    assert!(
        matches!(v.refusal(), Some(Refusal::NotApproved { operator }) if operator.address == polygon::EXCHANGE),
        "{v:?}"
    );

    anvil.set_approval_for_all(ctf, FUNDER, polygon::EXCHANGE, true).await.unwrap();
    anvil.mint_shares(ctf, FUNDER, token_word(), units("20")).await.unwrap();
    r.invalidate();
    let v = r.check_sell(&sell(MarketKind::Standard, "15", "5")).await;
    assert_eq!(
        v,
        Verdict::Allowed(Headroom::Shares { shares: Size::from_shares(20), required: Size::from_shares(20) })
    );
    let v = r.check_sell(&sell(MarketKind::Standard, "15", "5.000001")).await;
    assert_eq!(
        v.refusal(),
        Some(&Refusal::InsufficientShares {
            token: token(),
            shares: Size::from_shares(20),
            required: Size::parse("20.000001").unwrap(),
            size: Size::from_shares(15),
            open_sells: Size::parse("5.000001").unwrap(),
        })
    );

    // Neg-risk sells also need the neg-risk exchange and the adapter as operators.
    let v = r.check_sell(&sell(MarketKind::NegRisk, "1", "0")).await;
    assert!(
        matches!(v.refusal(), Some(Refusal::NotApproved { operator }) if operator.role == ContractRole::NegRiskExchange),
        "{v:?}"
    );
    anvil.set_approval_for_all(ctf, FUNDER, polygon::NEG_RISK_EXCHANGE, true).await.unwrap();
    anvil.set_approval_for_all(ctf, FUNDER, polygon::NEG_RISK_ADAPTER, true).await.unwrap();
    r.invalidate();
    assert!(r.check_sell(&sell(MarketKind::NegRisk, "1", "0")).await.is_allowed());
    let view = r.shares(&token(), MarketKind::NegRisk).await.unwrap();
    assert_eq!(view.shares, units("20"));
    assert!(view.approvals.iter().all(|(_, approved)| *approved));
}

#[tokio::test]
async fn cache_serves_reads_for_30s_of_the_clock_then_reads_again() {
    let Some(anvil) = chain("100").await else { return };
    let proxy = CountingProxy::start(anvil.url()).await;
    let clock = Arc::new(ManualClock::new(START_MS));
    let r = reader(&[proxy.url()], &clock);
    let order = buy(MarketKind::Standard, "80", "0", "0");

    assert!(r.check_buy(&order).await.is_allowed());
    // One batch: the chain id, the balance and the exchange's allowance.
    assert_eq!(proxy.posts(), 1);
    assert_eq!(proxy.methods(), ["eth_chainId", "eth_call", "eth_call"]);

    // The balance drops on chain; the cache does not know yet.
    anvil.deal_erc20(polygon::COLLATERAL, FUNDER, units("10")).await.unwrap();
    assert!(r.check_buy(&order).await.is_allowed(), "second read must come from the cache");
    clock.advance(29_999);
    assert!(r.check_buy(&order).await.is_allowed(), "still within the TTL");
    assert_eq!(proxy.posts(), 1, "no RPC within the TTL");
    assert_eq!(r.stats().cache_hits, 2);

    // At 30 s the values expire: a new read, and the new balance refuses.
    clock.advance(1);
    let v = r.check_buy(&order).await;
    assert!(
        matches!(v.refusal(), Some(Refusal::InsufficientBalance { balance, .. }) if *balance == usdc("10")),
        "{v:?}"
    );
    assert_eq!(proxy.posts(), 2);
    assert_eq!(proxy.count("eth_call"), 4);

    // A clock set back before the reading does not make it fresh forever.
    clock.set(START_MS);
    r.check_buy(&order).await;
    assert_eq!(proxy.posts(), 3);
}

#[tokio::test]
async fn invalidate_and_refresh_force_a_new_read() {
    let Some(anvil) = chain("100").await else { return };
    let proxy = CountingProxy::start(anvil.url()).await;
    let clock = Arc::new(ManualClock::new(START_MS));
    let r = reader(&[proxy.url()], &clock);
    let order = buy(MarketKind::Standard, "50", "0", "0");

    assert!(r.check_buy(&order).await.is_allowed());
    // An own fill spent 60 pUSD.
    anvil.deal_erc20(polygon::COLLATERAL, FUNDER, units("40")).await.unwrap();
    assert!(r.check_buy(&order).await.is_allowed(), "cached");
    r.invalidate();
    let v = r.check_buy(&order).await;
    assert!(
        matches!(v.refusal(), Some(Refusal::InsufficientBalance { balance, .. }) if *balance == usdc("40")),
        "{v:?}"
    );
    assert_eq!(proxy.posts(), 2);

    anvil.deal_erc20(polygon::COLLATERAL, FUNDER, units("55")).await.unwrap();
    let view = r.refresh(MarketKind::Standard).await.unwrap();
    assert_eq!(view.balance, units("55"));
    assert_eq!(view.read_at.millis(), START_MS);
    assert_eq!(proxy.posts(), 3);
    assert!(r.check_buy(&order).await.is_allowed());
    assert_eq!(proxy.posts(), 3, "refresh filled the cache");
}

#[tokio::test]
async fn an_invalidate_during_a_read_makes_it_read_again() {
    // The node answers correctly, but the first time it is asked, an own fill
    // "lands" (invalidate) while the batch is in flight.
    let slot: Arc<OnceLock<Arc<BalanceReader>>> = Arc::new(OnceLock::new());
    let batches = Arc::new(AtomicUsize::new(0));
    let (s, b) = (Arc::clone(&slot), Arc::clone(&batches));
    let fake = FakeRpc::start(move |method| match method {
        "eth_chainId" => {
            if b.fetch_add(1, Ordering::SeqCst) == 0 {
                s.get().expect("reader set").invalidate();
            }
            FakeAnswer::Result(json!("0x89"))
        }
        _ => FakeAnswer::Result(json!(format!("0x{:064x}", 100_000_000u64))),
    })
    .await;
    let clock = Arc::new(ManualClock::new(START_MS));
    let r = Arc::new(reader(&[fake.url()], &clock));
    slot.set(Arc::clone(&r)).unwrap();

    assert!(r.check_buy(&buy(MarketKind::Standard, "1", "0", "0")).await.is_allowed());
    assert_eq!(batches.load(Ordering::SeqCst), 2, "the straddled read was repeated");
    assert!(r.check_buy(&buy(MarketKind::Standard, "1", "0", "0")).await.is_allowed());
    assert_eq!(batches.load(Ordering::SeqCst), 2, "the repeated read was cached");
}

#[tokio::test]
async fn a_node_on_another_chain_is_refused() {
    let Some(anvil) = Anvil::start_with_chain_id(31337) else { return };
    anvil.plant_polymarket().await.unwrap();
    anvil.deal_erc20(polygon::COLLATERAL, FUNDER, units("100")).await.unwrap();
    anvil.set_erc20_allowance(polygon::COLLATERAL, FUNDER, polygon::EXCHANGE, U256::MAX).await.unwrap();
    let clock = Arc::new(ManualClock::new(START_MS));
    let r = reader(&[anvil.url()], &clock);

    let v = r.check_buy(&buy(MarketKind::Standard, "1", "0", "0")).await;
    let failure = failure_of(&v);
    assert!(failure.wrong_chain());
    // Not retried: a wrong chain does not fix itself in a second.
    assert_eq!(failure.attempts.len(), 1);
    assert_eq!(failure.attempts[0].error, EndpointError::WrongChain { expected: 137, got: 31337 });
    assert!(v.refusal().unwrap().needs_alert());
    assert!(v.refusal().unwrap().to_string().contains("wrong chain"), "{}", v.refusal().unwrap());
    let alerts = r.drain_alerts();
    assert!(matches!(alerts.last(), Some(BalanceAlert::Unavailable { .. })), "{alerts:?}");
    assert!(r.drain_alerts().is_empty(), "drained");
}

#[tokio::test]
async fn rpc_down_fails_closed() {
    let Some(mut anvil) = chain("100").await else { return };
    let clock = Arc::new(ManualClock::new(START_MS));
    let r = reader(&[anvil.url()], &clock);
    let order = buy(MarketKind::Standard, "1", "0", "0");
    assert!(r.check_buy(&order).await.is_allowed());

    anvil.kill();
    // Within the TTL the cached values still answer...
    assert!(r.check_buy(&order).await.is_allowed());
    // ...after it, nothing does.
    clock.advance(30_000);
    let v = r.check_buy(&order).await;
    let failure = failure_of(&v);
    assert_eq!(failure.attempts.len(), 2, "two rounds over one endpoint");
    assert!(failure.attempts.iter().all(|a| matches!(a.error, EndpointError::Unreachable { .. })), "{failure:?}");
    assert_eq!(failure.attempts[1].round, 1);
    assert!(r.collateral(MarketKind::Standard).await.is_err());
    assert!(!r.check_sell(&sell(MarketKind::Standard, "1", "0")).await.is_allowed());

    let alerts = r.drain_alerts();
    let endpoint_failures = alerts.iter().filter(|a| matches!(a, BalanceAlert::EndpointFailed { .. })).count();
    let unavailable = alerts.iter().filter(|a| matches!(a, BalanceAlert::Unavailable { .. })).count();
    assert_eq!((endpoint_failures, unavailable), (6, 3));
    assert_eq!(r.stats().unavailable, 3);
}

#[tokio::test]
async fn a_fallback_url_takes_over_when_the_first_is_down() {
    let Some(anvil) = chain("100").await else { return };
    let dead = closed_port_url();
    let clock = Arc::new(ManualClock::new(START_MS));
    let r = reader(&[&dead, anvil.url()], &clock);

    assert!(r.check_buy(&buy(MarketKind::Standard, "99", "0", "0")).await.is_allowed());
    let alerts = r.drain_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    match &alerts[0] {
        BalanceAlert::EndpointFailed { attempt, .. } => {
            assert_eq!(attempt.endpoint, dead);
            assert!(matches!(attempt.error, EndpointError::Unreachable { .. }), "{attempt:?}");
        }
        other => panic!("{other:?}"),
    }

    // A primary on the wrong chain is passed over the same way.
    let Some(other_chain) = Anvil::start_with_chain_id(1) else { return };
    let r = reader(&[other_chain.url(), anvil.url()], &clock);
    assert!(r.check_buy(&buy(MarketKind::Standard, "99", "0", "0")).await.is_allowed());
    assert!(matches!(
        r.drain_alerts().as_slice(),
        [BalanceAlert::EndpointFailed { attempt, .. }] if attempt.error == EndpointError::WrongChain { expected: 137, got: 1 }
    ));
}

/// A fake node on chain 137 whose `eth_call` answers are `call`.
async fn fake_with_calls(call: FakeAnswer) -> FakeRpc {
    FakeRpc::start(move |method| match method {
        "eth_chainId" => FakeAnswer::Result(json!("0x89")),
        _ => call.clone(),
    })
    .await
}

/// What a garbage case must be classified as.
type Expect = fn(&EndpointError) -> bool;

#[tokio::test]
async fn garbage_answers_fail_closed() {
    let word = |v: u64| json!(format!("0x{v:064x}"));
    let cases: Vec<(&str, FakeRpc, Expect)> = vec![
        ("plain text", FakeRpc::raw(200, "hello, not json").await, |e| matches!(e, EndpointError::Garbage { .. })),
        ("html 502", FakeRpc::raw(502, "<html>Bad Gateway</html>").await, |e| {
            matches!(e, EndpointError::Http { status: 502 })
        }),
        ("json, not json-rpc", FakeRpc::raw(200, r#"{"hello":"world"}"#).await, |e| {
            matches!(e, EndpointError::Garbage { .. })
        }),
        ("short word", fake_with_calls(FakeAnswer::Result(json!("0x1234"))).await, |e| {
            matches!(e, EndpointError::Garbage { .. })
        }),
        (
            "no code at address",
            fake_with_calls(FakeAnswer::Result(json!("0x"))).await,
            |e| matches!(e, EndpointError::Garbage { detail } if detail.contains("no contract")),
        ),
        ("not hex", fake_with_calls(FakeAnswer::Result(json!("0xzz"))).await, |e| {
            matches!(e, EndpointError::Garbage { .. })
        }),
        ("a number, not a string", fake_with_calls(FakeAnswer::Result(json!(12))).await, |e| {
            matches!(e, EndpointError::Garbage { .. })
        }),
        ("null result", fake_with_calls(FakeAnswer::Result(json!(null))).await, |e| {
            matches!(e, EndpointError::Garbage { .. })
        }),
        (
            "wrong ids",
            fake_with_calls(FakeAnswer::WrongId(word(5))).await,
            |e| matches!(e, EndpointError::Garbage { detail } if detail.contains("lacks")),
        ),
        (
            "node error",
            fake_with_calls(FakeAnswer::Error { code: -32000, message: "execution reverted".into() }).await,
            |e| matches!(e, EndpointError::Rpc { code: -32000, .. }),
        ),
        (
            "chain id garbage",
            FakeRpc::start(move |m| match m {
                "eth_chainId" => FakeAnswer::Result(json!("banana")),
                _ => FakeAnswer::Result(json!(format!("0x{:064x}", 5))),
            })
            .await,
            |e| matches!(e, EndpointError::Garbage { .. }),
        ),
    ];
    let clock = Arc::new(ManualClock::new(START_MS));
    for (name, fake, expected) in &cases {
        let r = reader(&[fake.url()], &clock);
        let v = r.check_buy(&buy(MarketKind::Standard, "1", "0", "0")).await;
        let failure = failure_of(&v);
        let last = &failure.last().expect("an attempt").error;
        assert!(expected(last), "{name}: unexpected {last:?}");
        assert_eq!(failure.attempts.len(), 2, "{name}: retried once");
        assert!(r.collateral(MarketKind::Standard).await.is_err(), "{name}");
    }

    // A bool that is neither 0 nor 1 is garbage for a sell.
    let fake = fake_with_calls(FakeAnswer::Result(word(2))).await;
    let r = reader(&[fake.url()], &clock);
    let v = r.check_sell(&sell(MarketKind::Standard, "1", "0")).await;
    assert!(matches!(failure_of(&v).last().unwrap().error, EndpointError::Garbage { .. }), "{v:?}");
}

#[tokio::test]
async fn a_silent_node_times_out() {
    let fake = FakeRpc::start(|_| FakeAnswer::Hang).await;
    let clock = Arc::new(ManualClock::new(START_MS));
    let cfg = BalanceConfig { call_timeout: Duration::from_millis(200), attempts: 1, ..config(&[fake.url()]) };
    let clock_dyn: Arc<dyn Clock> = clock;
    let r = BalanceReader::new(cfg, FUNDER, clock_dyn).unwrap();
    let v = r.check_buy(&buy(MarketKind::Standard, "1", "0", "0")).await;
    assert_eq!(failure_of(&v).attempts[0].error, EndpointError::Timeout { after_ms: 200 });
}

#[tokio::test]
async fn rpc_urls_with_keys_never_show_in_refusals_or_alerts() {
    let fake = FakeRpc::raw(200, "nonsense").await;
    let secret_fake = format!("{}/v2/SECRETKEY123", fake.url());
    let secret_dead = format!("{}/?apikey=SECRETKEY456", closed_port_url());
    let clock = Arc::new(ManualClock::new(START_MS));
    let r = reader(&[&secret_dead, &secret_fake], &clock);
    let v = r.check_buy(&buy(MarketKind::Standard, "1", "0", "0")).await;
    assert!(!v.is_allowed());
    let texts = [
        v.refusal().unwrap().to_string(),
        serde_json::to_string(&v).unwrap(),
        format!("{v:?}"),
        serde_json::to_string(&r.drain_alerts()).unwrap(),
        format!("{r:?}"),
    ];
    for text in texts {
        assert!(!text.contains("SECRETKEY"), "leaked: {text}");
    }
}
