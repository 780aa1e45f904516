//! The whole order path with real parts: the gateway signs in to the
//! simulator, checks every order against the funder's pUSD on a real chain
//! (anvil, skipped with a NOTICE when not installed; `.ci/run` installs it),
//! and writes everything to a real SQLite journal. An order the wallet cannot
//! carry on chain must never reach the simulator, even though the simulator
//! itself would accept it.

use crate::gateway_support;

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use pmbot_core::{Clock, Side, Usdc};
use pmbot_engine::journal::Journal;
use pmbot_testkit::{Anvil, polygon};
use pmbot_venue::SystemClock;
use pmbot_venue::balance::{BalanceConfig, BalanceReader};
use pmbot_venue::gateway::{BalanceRefusalKind, Gateway, GatewayAlert, GatewayDeps, GatewayError, PrivateKey, Refusal};
use secrecy::SecretString;

use gateway_support::*;

fn units(pusd: &str) -> U256 {
    U256::from(Usdc::parse(pusd).unwrap().micros())
}

fn refusal_kind(e: &GatewayError) -> BalanceRefusalKind {
    match e {
        GatewayError::Refused(Refusal::Balance(r)) => r.kind.clone(),
        other => panic!("expected a balance refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_the_chain_balance_cannot_carry_never_reaches_the_simulator() {
    let Some(mut anvil) = Anvil::start() else { return };
    bounded(90, async {
        let key = PrivateKey::given(SecretString::from(KEYS[0].to_owned()));
        let funder: Address = key.address().unwrap();
        anvil.plant_polymarket().await.unwrap();
        // 100 pUSD on chain; the simulator credits 1,000 on its own books.
        anvil.deal_erc20(polygon::COLLATERAL, funder, units("100")).await.unwrap();
        for spender in [polygon::EXCHANGE, polygon::NEG_RISK_EXCHANGE, polygon::NEG_RISK_ADAPTER] {
            anvil.set_erc20_allowance(polygon::COLLATERAL, funder, spender, U256::MAX).await.unwrap();
        }

        let sim = start_sim(quiet_sim(1)).await;
        let dir = temp_dir("chain");
        let journal_path = dir.join("journal.sqlite");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let reader = Arc::new(
            BalanceReader::new(
                BalanceConfig {
                    rpc_urls: vec![anvil.url().to_owned()],
                    call_timeout: Duration::from_secs(2),
                    attempts: 2,
                    backoff_initial: Duration::from_millis(10),
                    backoff_max: Duration::from_millis(20),
                    ..BalanceConfig::default()
                },
                funder,
                clock.clone(),
            )
            .unwrap(),
        );
        let deps = GatewayDeps { log: Box::new(Journal::open(&journal_path).unwrap()), balance: reader.clone(), clock };
        let mut started = Gateway::start_with_key(sim_cfg(&sim, &dir), key, deps).await.unwrap();
        let gw = started.gateway.clone();
        let token = tokens(&sim)[0].0.clone();

        // 40 pUSD (+ fee) on chain: sent.
        let first = gw.place(intent("chain-1", &token, Side::Buy, "0.40", 100)).await.unwrap();
        assert_eq!(accepted(&sim), 1);
        // 70 more with 40 committed: above the 100 on chain, refused here.
        let e = gw.place(intent("chain-2", &token, Side::Buy, "0.35", 200)).await.unwrap_err();
        assert_eq!(refusal_kind(&e), BalanceRefusalKind::Insufficient, "{e}");
        assert!(e.to_string().contains("pUSD balance 100"), "the refusal names the numbers: {e}");
        assert_eq!(accepted(&sim), 1, "the refused order never reached the simulator");
        // 40 + 40 (+ fees) fits.
        gw.place(intent("chain-3", &token, Side::Buy, "0.40", 100)).await.unwrap();
        assert_eq!(accepted(&sim), 2);

        // The allowance to the exchange drops on chain; a fresh read refuses.
        anvil.set_erc20_allowance(polygon::COLLATERAL, funder, polygon::EXCHANGE, units("5")).await.unwrap();
        reader.invalidate();
        let e = gw.place(intent("chain-4", &token, Side::Buy, "0.10", 10)).await.unwrap_err();
        assert_eq!(refusal_kind(&e), BalanceRefusalKind::Allowance, "{e}");
        assert_eq!(accepted(&sim), 2);

        // The node goes away: fail closed, with an alert.
        anvil.kill();
        reader.invalidate();
        let e = gw.place(intent("chain-5", &token, Side::Buy, "0.10", 10)).await.unwrap_err();
        assert_eq!(refusal_kind(&e), BalanceRefusalKind::Unavailable, "{e}");
        assert_eq!(accepted(&sim), 2);
        let mut alerts = Vec::new();
        while let Ok(a) = started.alerts.try_recv() {
            alerts.push(a);
        }
        let balance_alerts: Vec<_> = alerts.iter().filter(|a| matches!(a, GatewayAlert::BalanceCheck { .. })).collect();
        assert_eq!(balance_alerts.len(), 2, "allowance and unavailable alert, insufficient does not: {alerts:?}");

        // The journal holds the two orders sent (hash = the simulator's id)
        // and the three refusals with their reasons, and no secret.
        gw.shutdown();
        drop(started);
        drop(gw);
        let journal = Journal::open_read_only(&journal_path).unwrap();
        let orders = journal.orders().unwrap();
        assert_eq!(orders.len(), 2);
        assert!(orders.iter().any(|o| o.prepared.order_hash == first.order_id));
        for o in &orders {
            assert!(
                sim_order(&sim, &o.prepared.order_hash).is_some(),
                "journal order {} is on the sim",
                o.prepared.order_hash
            );
        }
        let refusals = journal.refusals().unwrap();
        let reasons: Vec<(&str, &str)> =
            refusals.iter().map(|r| (r.intent.client_order_id.as_str(), r.reason.as_str())).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].0 == "chain-2" && reasons[0].1.contains("balance"), "{reasons:?}");
        assert!(reasons[1].0 == "chain-4" && reasons[1].1.contains("allowance"), "{reasons:?}");
        assert!(reasons[2].0 == "chain-5" && reasons[2].1.contains("unavailable"), "{reasons:?}");
        let leaks = journal.scan_for(&[&KEYS[0][2..]]).unwrap();
        assert!(leaks.is_empty(), "the private key is in the journal: {leaks:?}");
        eprintln!("chain + journal + gateway + simulator: 2 orders sent, 3 refused before sending ({reasons:?})");
        sim.shutdown().await;
    })
    .await;
}
