//! The order gateway against the simulator: placing, the hash known before
//! sending, the journal written first, the kill switch, the balance
//! pre-check, duplicate intents, cancels, and fills on the user channel.

use crate::gateway_support;

use std::sync::atomic::Ordering;

use gateway_support::*;
use pmbot_core::{OrderStatus, Side, Size, Usdc};
use pmbot_venue::gateway::{GatewayAlert, GatewayError, MemoryOrderLog, Refusal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hash_computed_before_sending_is_the_exchanges_order_id() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(2)).await;
        let dir = temp_dir("hash");
        let log = MemoryOrderLog::new();
        let started = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.expect("start");
        let gw = started.gateway;
        assert_eq!(started.report.checked, 0);
        let (yes, no) = tokens(&sim)[0].clone();

        let placed = gw.place(intent("h-1", &yes, Side::Buy, "0.40", 10)).await.expect("placed");
        assert_eq!(placed.status, OrderStatus::Acknowledged);
        assert_eq!(placed.posts, 1);
        // The simulator's own order id is the hash we journaled before sending.
        let (status, matched) = sim_order(&sim, &placed.order_id).expect("the simulator holds the order");
        assert_eq!((status, matched), (pmbot_sim::engine::OrderStatus::Live, Size::ZERO));
        let snap = log.snapshot();
        assert_eq!(snap.sends.len(), 1);
        let sent = &snap.sends[0];
        assert_eq!(sent.order_hash, placed.order_id);
        assert!(sent.body.contains("\"deferExec\":true"), "{}", sent.body);
        assert!(sent.body.contains(&gw.api_key()));
        assert_eq!(snap.orders[&sent.client_order_id].status, OrderStatus::Acknowledged);

        // A SELL on the other token, post-only, also matches its hash. (The
        // account holds no shares of it: the exchange refuses for balance,
        // which also proves the order was built and signed correctly.)
        let mut sell = intent("h-2", &no, Side::Sell, "0.90", 5);
        sell.post_only = true;
        match gw.place(sell).await {
            Err(GatewayError::ExchangeRefused { kind, .. }) => {
                assert_eq!(kind, pmbot_venue::gateway::RefusalKind::Balance);
            }
            other => panic!("{other:?}"),
        }

        // Cancel: the simulator and pmbot agree.
        let report = gw.cancel(placed.order_id).await.expect("cancel");
        assert_eq!(report.cancelled, vec![placed.order_id]);
        assert_eq!(sim_order(&sim, &placed.order_id).unwrap().0, pmbot_sim::engine::OrderStatus::Canceled);
        let view = gw.order(&placed.client_order_id).unwrap();
        assert_eq!(view.status, OrderStatus::Cancelled);
        // Cancelling again is safe and changes nothing.
        let again = gw.cancel(placed.order_id).await.expect("cancel again");
        assert!(again.cancelled.is_empty() && again.not_cancelled.len() == 1);
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_sent_when_the_journal_cannot_write() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("journal");
        let log = MemoryOrderLog::new();
        let gw = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap().gateway;
        let (yes, _) = tokens(&sim)[0].clone();
        log.fail_before_send(true);
        let err = gw.place(intent("j-1", &yes, Side::Buy, "0.40", 10)).await.unwrap_err();
        assert!(matches!(err, GatewayError::Journal(_)), "{err:?}");
        assert_eq!(accepted(&sim), 0);
        assert_eq!(sim_stats(&sim).await["orders_rejected"], 0, "no order post reached the simulator");
        assert_eq!(gw.stats().posts, 0);
        log.fail_before_send(false);
        gw.place(intent("j-2", &yes, Side::Buy, "0.40", 10)).await.expect("placed once the journal writes");
        assert_eq!(accepted(&sim), 1);
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_stops_every_order_and_cancels_the_open_ones() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("kill");
        let cfg = sim_cfg(&sim, &dir);
        let kill = cfg.kill_switch.clone();
        let log = MemoryOrderLog::new();
        let mut started = start_gateway(cfg, 0, &log, Budget::unlimited()).await.unwrap();
        let gw = started.gateway.clone();
        let (yes, _) = tokens(&sim)[0].clone();

        // Mid-run: one order rests, then the file appears; the next order is refused.
        let resting = gw.place(intent("k-1", &yes, Side::Buy, "0.30", 10)).await.unwrap();
        assert_eq!(accepted(&sim), 1);
        std::fs::write(&kill, "stop").unwrap();
        let err = gw.place(intent("k-2", &yes, Side::Buy, "0.31", 10)).await.unwrap_err();
        assert!(matches!(err, GatewayError::Refused(Refusal::KillSwitch(ref p)) if *p == kill), "{err:?}");
        assert_eq!(accepted(&sim), 1, "no order reached the simulator");
        assert_eq!(sim_stats(&sim).await["orders_rejected"], 0);
        // The open order was cancelled, the refusal journaled, an alert sent.
        assert_eq!(sim_order(&sim, &resting.order_id).unwrap().0, pmbot_sim::engine::OrderStatus::Canceled);
        assert_eq!(gw.order(&resting.client_order_id).unwrap().status, OrderStatus::Cancelled);
        let snap = log.snapshot();
        assert_eq!(snap.refusals.len(), 1);
        assert!(snap.refusals[0].1.contains("kill switch"), "{:?}", snap.refusals);
        assert_eq!(snap.sends.len(), 1, "the refused intent was never prepared");
        let alert = started.alerts.recv().await.unwrap();
        assert!(matches!(alert, GatewayAlert::KillSwitch { cancelled: Some(1), .. }), "{alert:?}");

        // Present from the start of a batch: none of them reaches the simulator.
        for i in 0..5 {
            let r = gw.place(intent(&format!("k-b{i}"), &yes, Side::Buy, "0.20", 10)).await;
            assert!(matches!(r, Err(GatewayError::Refused(Refusal::KillSwitch(_)))));
        }
        assert_eq!(accepted(&sim), 1);
        assert!(sim.state.lock().exchange.open_orders(gw.address(), &Default::default()).is_empty());

        // Checked per order, not cached: removing it lets the next one through.
        std::fs::remove_file(&kill).unwrap();
        gw.place(intent("k-3", &yes, Side::Buy, "0.31", 10)).await.expect("placed after the switch is removed");
        assert_eq!(accepted(&sim), 2);
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_refusals_and_duplicate_intents_send_nothing() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("balance");
        let log = MemoryOrderLog::new();
        let budget = Budget::of(Usdc::from_whole(10));
        let gw = start_gateway(sim_cfg(&sim, &dir), 0, &log, budget.clone()).await.unwrap().gateway;
        let (yes, _) = tokens(&sim)[0].clone();

        // 20 x 0.40 = 8 pUSD: fits. Another 8 does not (8 already committed).
        let first = gw.place(intent("b-1", &yes, Side::Buy, "0.40", 20)).await.unwrap();
        let err = gw.place(intent("b-2", &yes, Side::Buy, "0.40", 20)).await.unwrap_err();
        assert!(matches!(err, GatewayError::Refused(Refusal::Balance(_))), "{err:?}");
        assert_eq!(accepted(&sim), 1);
        // The RPC is down: fail closed.
        budget.unavailable.store(true, Ordering::SeqCst);
        let err = gw.place(intent("b-3", &yes, Side::Buy, "0.01", 5)).await.unwrap_err();
        assert!(matches!(err, GatewayError::Refused(Refusal::Balance(_))), "{err:?}");
        budget.unavailable.store(false, Ordering::SeqCst);
        // Once the first is cancelled its commitment is free again.
        gw.cancel(first.order_id).await.unwrap();
        gw.place(intent("b-2", &yes, Side::Buy, "0.40", 20)).await.expect("fits after the cancel");

        // The same intent twice: one order.
        let err = gw.place(intent("b-2", &yes, Side::Buy, "0.40", 20)).await.unwrap_err();
        assert!(matches!(err, GatewayError::Refused(Refusal::DuplicateIntent(_))), "{err:?}");
        assert_eq!(accepted(&sim), 2);
        let snap = log.snapshot();
        assert_eq!(snap.refusals.len(), 2, "{:?}", snap.refusals);

        // The exchange's own balance refusal refreshes the reader.
        let before = budget.refreshes.load(Ordering::SeqCst);
        *budget.limit.lock().unwrap() = None;
        let err = gw.place(intent("b-4", &yes, Side::Buy, "0.50", 5000)).await.unwrap_err();
        assert!(
            matches!(err, GatewayError::ExchangeRefused { kind: pmbot_venue::gateway::RefusalKind::Balance, .. }),
            "{err:?}"
        );
        assert!(budget.refreshes.load(Ordering::SeqCst) > before);
        assert_eq!(gw.order(&pmbot_core::ClientOrderId::new("b-4").unwrap()).unwrap().status, OrderStatus::Rejected);
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

/// A simulated exchange's own ledger (`/balance-allowance`) as the
/// pre-check, by the on-chain rules: a buy the account's pUSD covers is
/// placed; one that, with the open buy, exceeds it is refused before
/// sending, as is a sell of shares the account does not hold; a ledger that
/// cannot be read refuses (fail closed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulators_ledger_is_a_fail_closed_pre_check() {
    use pmbot_venue::balance::{BalanceConfig, MarketKind};
    use pmbot_venue::gateway::{BalanceRefusalKind, ExchangeBalance, Gateway, GatewayDeps, PrivateKey};
    bounded(60, async {
        let sim =
            start_sim(pmbot_sim::SimConfig { starting_balance: Usdc::from_whole(10), ..quiet_sim(1) }).await;
        let dir = temp_dir("exchange-balance");
        let cfg = sim_cfg(&sim, &dir);
        let key = || PrivateKey::given(secrecy::SecretString::from(KEYS[0].to_owned()));
        let clock = std::sync::Arc::new(pmbot_venue::SystemClock);
        let ledger = ExchangeBalance::connect(&cfg, &key(), BalanceConfig::default(), clock.clone()).await.unwrap();
        let ledger = std::sync::Arc::new(ledger);
        let view = ledger.collateral(MarketKind::NegRisk).await.unwrap();
        assert_eq!(view.balance, alloy_primitives::U256::from(10_000_000u64), "10 pUSD, in base units");
        assert_eq!(view.allowances.len(), 3, "every neg-risk spender");
        assert!(view.allowances.iter().all(|(_, a)| *a == alloy_primitives::U256::MAX), "{view:?}");

        let log = MemoryOrderLog::new();
        let deps = GatewayDeps { log: Box::new(log.clone()), balance: ledger.clone(), clock };
        let gw = Gateway::start_with_key(cfg, key(), deps).await.unwrap().gateway;
        let (yes, _) = tokens(&sim)[0].clone();
        let refused = |err: &GatewayError, kind: BalanceRefusalKind| {
            matches!(err, GatewayError::Refused(Refusal::Balance(r)) if r.kind == kind)
        };
        // 20 x 0.40 = 8 pUSD: covered. Another 8 with 8 open is not.
        gw.place(intent("x-1", &yes, Side::Buy, "0.40", 20)).await.unwrap();
        let err = gw.place(intent("x-2", &yes, Side::Buy, "0.40", 20)).await.unwrap_err();
        assert!(refused(&err, BalanceRefusalKind::Insufficient), "{err:?}");
        let err = gw.place(intent("x-3", &yes, Side::Sell, "0.60", 5)).await.unwrap_err();
        assert!(refused(&err, BalanceRefusalKind::Insufficient), "no shares held: {err:?}");
        assert_eq!(accepted(&sim), 1, "only the covered order reached the exchange");

        // The exchange is gone: the ledger cannot be read, the order is refused.
        sim.shutdown().await;
        let err = gw.place(intent("x-4", &yes, Side::Buy, "0.01", 5)).await.unwrap_err();
        assert!(refused(&err, BalanceRefusalKind::Unavailable), "{err:?}");
        assert!(err.to_string().contains("/balance-allowance"), "{err}");
        assert_eq!(log.snapshot().refusals.len(), 3);
        gw.shutdown();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fills_arrive_on_the_user_channel_once() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("fills");
        let log = MemoryOrderLog::new();
        let budget = Budget::unlimited();
        let gw = start_gateway(sim_cfg(&sim, &dir), 0, &log, budget.clone()).await.unwrap().gateway;
        let (yes, no) = tokens(&sim)[0].clone();
        assert!(eventually(10, || gw.user_channel().connected).await, "user channel up");

        let placed = gw.place(intent("f-1", &yes, Side::Buy, "0.40", 10)).await.unwrap();
        // A house account sells 5 Yes into our bid (as a BUY of No at 0.60).
        let h = house(&sim, 0xbb);
        house_order(&sim, h, &no, Side::Buy, "0.60", 5);
        let cid = placed.client_order_id.clone();
        assert!(
            eventually(10, || gw.order(&cid).is_some_and(|o| o.filled == Size::from_shares(5))).await,
            "{:?}",
            gw.order(&cid)
        );
        assert_eq!(gw.order(&cid).unwrap().status, OrderStatus::PartiallyFilled);
        // The trade settles (MATCHED, MINED, CONFIRMED): one fill in the journal.
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let snap = log.snapshot();
        assert_eq!(snap.fills.len(), 1, "{:?}", snap.fills);
        let f = &snap.fills[0];
        assert_eq!((f.order_id, f.size, f.side), (placed.order_id, Size::from_shares(5), Side::Buy));
        assert_eq!(f.liquidity, pmbot_core::events::Liquidity::Maker);
        // The trade's `timestamp` comes in seconds, as on the real exchange
        // (polymarket-protocol.md corrections 7): the fill is dated now, not
        // in 1970.
        let age_ms = sim.state.now_ms() - f.time.exchange.0;
        assert!((0..60_000).contains(&age_ms), "fill dated {:?}, {age_ms} ms ago", f.time.exchange);
        assert!(budget.refreshes.load(Ordering::SeqCst) >= 1, "a fill refreshes the balance reader");
        // The rest fills: Filled, and the simulator agrees.
        house_order(&sim, h, &no, Side::Buy, "0.60", 5);
        assert!(eventually(10, || gw.order(&cid).is_some_and(|o| o.status == OrderStatus::Filled)).await);
        let (st, matched) = sim_order(&sim, &placed.order_id).unwrap();
        assert_eq!((st, matched), (pmbot_sim::engine::OrderStatus::Matched, Size::from_shares(10)));
        // A REST reconciliation reads the same trades again: nothing new.
        let report = gw.reconcile().await.unwrap();
        assert_eq!(report.new_fills, 0);
        assert_eq!(log.snapshot().fills.len(), 2);
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

/// A taker fill pays the market's taker fee in pUSD, whichever side it is
/// (CLOB V2), computed from the market's schedule (`fd` in `/clob-markets`:
/// sports, 0.03, here; pmbot used to assume 0.07) rather than from the trade record's
/// `fee_rate_bps`, which the real feed sends as `""` at times. The BUY
/// receives every share it matched. Before it, the balance pre-check asks
/// for the fee in pUSD on top of the cost, and counts the fee an open bid
/// may pay in what is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taker_fill_pays_the_markets_fee_in_pusd() {
    bounded(60, async {
        let mut cfg = quiet_sim(1);
        let pmbot_sim::SourceConfig::Synthetic(synthetic) = &mut cfg.source else {
            unreachable!("quiet_sim is synthetic")
        };
        synthetic.fee = pmbot_sim::engine::FeeSchedule::sports();
        let sim = start_sim(cfg).await;
        let dir = temp_dir("taker-fee");
        let log = MemoryOrderLog::new();
        let budget = Budget::unlimited();
        let gw = start_gateway(sim_cfg(&sim, &dir), 0, &log, budget.clone()).await.unwrap().gateway;
        let (yes, no) = tokens(&sim)[0].clone();
        assert!(eventually(10, || gw.user_channel().connected).await, "user channel up");
        // The schedule the engine is given is the market's `fd`, through the
        // gateway (live) or without credentials (paper on live data).
        let sports = pmbot_core::FeeModel::taker(rust_decimal::Decimal::new(3, 2));
        assert_eq!(gw.market_fee(&yes).await.unwrap(), sports);
        let market = sim.state.lock().exchange.markets()[0].spec.condition_id;
        let read =
            pmbot_venue::market_fee::market_fee(&sim.rest_url(), market, std::time::Duration::from_secs(5)).await;
        assert_eq!(read, Ok(sports));
        // Our resting bid: 5 at 0.30 commits 1.5 and the 0.0315 fee it could pay.
        gw.place(intent("t-0", &yes, Side::Buy, "0.30", 5)).await.unwrap();
        // A house account offers 10 Yes at 0.40 (a bid for No at 0.60).
        let h = house(&sim, 0xcc);
        house_order(&sim, h, &no, Side::Buy, "0.60", 10);
        let mut take = intent("t-1", &yes, Side::Buy, "0.40", 10);
        take.order_type = pmbot_core::events::OrderType::Fak;
        let placed = gw.place(take).await.unwrap();
        let q = budget.queries.lock().unwrap().last().cloned().unwrap();
        let usdc = |s: &str| Usdc::parse(s).unwrap();
        assert_eq!((q.cost, q.max_fee, q.open_buy_commitments), (usdc("4"), usdc("0.072"), usdc("1.5315")));
        let cid = placed.client_order_id.clone();
        assert!(eventually(10, || !log.snapshot().fills.is_empty()).await, "{:?}", gw.order(&cid));
        let f = log.snapshot().fills[0].clone();
        assert_eq!((f.size, f.liquidity), (Size::from_shares(10), pmbot_core::events::Liquidity::Taker));
        // 10 x 0.03 x 0.4 x 0.6.
        assert_eq!(f.fee, Usdc::parse("0.072").unwrap());
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancels_by_list_and_by_market_and_no_secret_in_anything_written() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(2)).await;
        let dir = temp_dir("cancels");
        let log = MemoryOrderLog::new();
        let mut started = start_gateway(sim_cfg(&sim, &dir), 0, &log, Budget::unlimited()).await.unwrap();
        let gw = started.gateway.clone();
        let pairs = tokens(&sim);
        let (a, b) = (pairs[0].0.clone(), pairs[1].0.clone());
        let mut ids = Vec::new();
        for (i, t) in [&a, &a, &b, &b].into_iter().enumerate() {
            ids.push(gw.place(intent(&format!("c-{i}"), t, Side::Buy, "0.20", 5)).await.unwrap().order_id);
        }
        // Two by list.
        let r = gw.cancel_many(&ids[..2]).await.unwrap();
        assert_eq!(r.cancelled.len(), 2);
        // The rest by market.
        let market_b = sim.state.lock().exchange.market_of_token(&b).unwrap().spec.condition_id;
        let r = gw.cancel_market(Some(market_b), None).await.unwrap();
        assert_eq!(r.cancelled.len(), 2);
        assert!(sim_open(&sim, gw.address()).is_empty());
        assert!(gw.orders().iter().all(|o| o.status == OrderStatus::Cancelled));
        // Errors, alerts, the journal and the gateway's Debug carry no secret.
        std::fs::write(dir.join(".kill_switch"), "x").unwrap();
        let refused = gw.place(intent("c-9", &a, Side::Buy, "0.20", 5)).await.unwrap_err().to_string();
        let key: uuid::Uuid = gw.api_key().parse().unwrap();
        let (secret, passphrase) = {
            let s = sim.state.lock();
            let c = s.keys.get(&key).unwrap().credentials();
            (c.secret().to_owned(), c.passphrase().to_owned())
        };
        let mut written = format!("{gw:?}\n{refused}\n{:?}\n", log.snapshot());
        while let Ok(a) = started.alerts.try_recv() {
            written.push_str(&format!("{a:?}\n"));
        }
        let private_key = &KEYS[0][2..];
        for (name, s) in
            [("secret", secret.as_str()), ("passphrase", passphrase.as_str()), ("private key", private_key)]
        {
            assert!(s.len() >= 16 && !written.contains(s), "the {name} leaked");
        }
        gw.shutdown();
        sim.shutdown().await;
    })
    .await;
}
