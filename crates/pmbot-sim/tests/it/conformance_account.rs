//! Conformance: what the real exchange does with an account's money and its
//! orders' safety net, checked over HTTP against the simulator with the
//! official Rust SDK: no payout before redemption, allowances from real
//! state, and the heartbeat id rules. Each test names its source.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use pmbot_core::Side::Buy;
use pmbot_sim::SimConfig;
use pmbot_sim::engine::{EngineConfig, Query};
use polymarket_client_sdk_v2::auth::Uuid;
use polymarket_client_sdk_v2::clob::types::request::BalanceAllowanceRequest;
use polymarket_client_sdk_v2::clob::types::{AssetType, Side as SdkSide};
use polymarket_client_sdk_v2::types::{Decimal, U256, dec};
use serde_json::{Value, json};

/// `(balance, allowances)` of `/balance-allowance` for COLLATERAL or, with
/// a token, CONDITIONAL, read through the SDK.
async fn balance_allowance(who: &Account, token: Option<U256>) -> (Decimal, Vec<String>) {
    let req = match token {
        None => BalanceAllowanceRequest::builder().asset_type(AssetType::Collateral).build(),
        Some(t) => BalanceAllowanceRequest::builder().asset_type(AssetType::Conditional).token_id(t).build(),
    };
    let r = who.client.balance_allowance(req).await.expect("balance-allowance");
    let mut allowances: Vec<String> = r.allowances.values().cloned().collect();
    allowances.sort();
    (r.balance, allowances)
}

/// Posts a heartbeat carrying `heartbeat_id`, which must be refused; returns
/// the id the refusal names.
async fn refused_heartbeat(sim: &pmbot_sim::SimHandle, who: &Account, heartbeat_id: String) -> String {
    let body = json!({ "heartbeat_id": heartbeat_id }).to_string();
    let resp = who.raw(sim, "POST", "/v1/heartbeats", body.as_bytes()).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error_msg"], "Invalid Heartbeat ID", "{v}");
    assert_eq!(v.as_object().map(|o| o.len()), Some(2), "exactly error_msg and heartbeat_id: {v}");
    v["heartbeat_id"].as_str().unwrap().to_owned()
}

async fn admin(sim: &pmbot_sim::SimHandle, path: &str, body: Value) -> (u16, Value) {
    let resp = http().post(format!("http://{}{path}", sim.addr)).json(&body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// Resolution credits nothing: the winner's pUSD balance is unchanged and
/// its tokens stay (the CONDITIONAL balance still shows them) until it
/// redeems, which pays 1 pUSD per winning share and burns the tokens once;
/// redeeming before resolution is refused.
/// Sources: polymarket-protocol.md corrections 5 ("Winning shares are not
/// paid out automatically ... until then the pUSD balance does not include
/// the payout"); the official Rust SDK's `ctf` feature (`redeem_positions`);
/// issue 13 item 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolution_pays_nothing_until_the_holder_redeems() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xa1);
        house_order(&sim, h, &m.no, Buy, "0.60", 100); // Yes ask 0.40
        let alice = account(&sim, 0).await;
        let buy = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        assert_eq!(alice.post_json(&sim, &buy).await.status(), 200);
        let redeem = json!({"address": format!("{:#x}", alice.address), "condition_id": m.cid_hex()});
        let (status, body) = admin(&sim, "/_sim/redeem", redeem.clone()).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("market not resolved")));

        let (cash_before, _) = balance_allowance(&alice, None).await;
        admin_post(&sim, "/_sim/resolve", json!({"market": m.cid_hex(), "winning_token": m.yes.as_str()})).await;
        assert_eq!(balance_allowance(&alice, None).await.0, cash_before, "resolution credits nothing");
        assert_eq!(balance_allowance(&alice, Some(m.yes_u256())).await.0, dec!(10000000), "the tokens stay");

        let (status, paid) = admin(&sim, "/_sim/redeem", redeem.clone()).await;
        assert_eq!(status, 200, "{paid}");
        assert_eq!((paid["payout"].as_str(), paid["winning_burned"].as_str()), (Some("10"), Some("10")));
        assert_eq!(balance_allowance(&alice, None).await.0, cash_before + dec!(10000000));
        assert_eq!(balance_allowance(&alice, Some(m.yes_u256())).await.0, Decimal::ZERO);
        let (_, again) = admin(&sim, "/_sim/redeem", redeem).await;
        assert_eq!(again["payout"], "0", "a second redemption pays nothing");
        // The losing side redeems for nothing and its tokens burn.
        let house_redeem = json!({"address": format!("{h:#x}"), "condition_id": m.cid_hex()});
        let (_, lost) = admin(&sim, "/_sim/redeem", house_redeem).await;
        assert_eq!((lost["payout"].as_str(), lost["losing_burned"].as_str()), (Some("0"), Some("10")));
        sim.state.lock().exchange.audit().expect("collateral conserved");
        sim.shutdown().await;
    })
    .await;
}

/// `/balance-allowance` reports the allowances the account really set: an
/// account that approved nothing sees "0" for each of the three V2
/// contracts, and its order is refused "not enough balance / allowance"
/// although its balance covers it; after approving (here `/_sim/approve`,
/// standing in for the on-chain `approve` and `setApprovalForAll`) it sees the
/// maximum and trades.
/// Sources: polymarket-sdk-notes.md section 7 (`allowances` per spender,
/// approvals from the funder to CTF Exchange V2, Neg Risk CTF Exchange V2
/// and the Neg Risk Adapter); docs "Orders Overview" ("To place an order,
/// allowances must be set by the funder address ... for the Exchange
/// contract"); py-clob-client #287 and #297 (the refusal text; allowances at
/// 0 until set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_allowance_is_refused_and_sees_zero() {
    bounded(60, async {
        let cfg =
            SimConfig { engine: EngineConfig { approve_on_fund: false, ..EngineConfig::default() }, ..quiet_config(1) };
        let sim = start(cfg).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;
        let zeros = vec!["0".to_owned(); 3];
        assert_eq!(balance_allowance(&alice, None).await, (dec!(1000000000), zeros.clone()));
        assert_eq!(balance_allowance(&alice, Some(m.yes_u256())).await.1, zeros);
        let order = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        assert_eq!(
            error_of(alice.post_json(&sim, &order).await).await,
            (400, "not enough balance / allowance".to_owned())
        );

        let approve = json!({"address": format!("{:#x}", alice.address), "collateral": "max", "tokens": true});
        admin_post(&sim, "/_sim/approve", approve).await;
        let max = vec![U256::MAX.to_string(); 3];
        assert_eq!(balance_allowance(&alice, None).await.1, max);
        assert_eq!(balance_allowance(&alice, Some(m.yes_u256())).await.1, max);
        assert_eq!(alice.post_json(&sim, &order).await.status(), 200);

        // A limited allowance covers what it covers: 4 pUSD are promised now,
        // so 5 allowed leaves room for 1 more, not for another 4.
        let approve = json!({"address": format!("{:#x}", alice.address), "collateral": "5"});
        admin_post(&sim, "/_sim/approve", approve).await;
        assert_eq!(balance_allowance(&alice, None).await.1, vec!["5000000".to_owned(); 3]);
        let more = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        assert_eq!(error_of(alice.post_json(&sim, &more).await).await.1, "not enough balance / allowance");
        sim.shutdown().await;
    })
    .await;
}

/// Accounts opened the usual ways (API-key creation with the starting
/// balance, `/_sim/fund`) are approved by default, as wallets set up through
/// Polymarket's UI are, and an explicit revocation takes it back.
/// Source: the same as above; the default is the simulator's
/// (`[sim.engine] approve_on_fund`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usual_accounts_are_approved_until_they_revoke() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;
        assert_eq!(balance_allowance(&alice, None).await.1, vec![U256::MAX.to_string(); 3]);
        let funded = pmbot_sim::engine::Address::repeat_byte(0x5e);
        admin_post(&sim, "/_sim/fund", json!({"address": format!("{funded:#x}"), "amount": "10"})).await;
        assert!(sim.state.lock().exchange.approvals(funded).covers_tokens(&pmbot_sim::engine::Spender::ALL));

        let revoke = json!({"address": format!("{:#x}", alice.address), "collateral": "0", "tokens": false});
        let (status, body) = admin(&sim, "/_sim/approve", revoke).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(balance_allowance(&alice, None).await.1, vec!["0".to_owned(); 3]);
        let order = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        assert_eq!(error_of(alice.post_json(&sim, &order).await).await.1, "not enough balance / allowance");
        sim.shutdown().await;
    })
    .await;
}

/// A heartbeat with a stale or made-up id is refused 400
/// `{"error_msg":"Invalid Heartbeat ID","heartbeat_id":"<expected id>"}`, and
/// refused heartbeats keep nothing alive: an account that sends only those
/// after its last valid one has every open order cancelled when the
/// deadline passes.
/// Sources: polymarket-protocol.md corrections 3; Polymarket/py-sdk
/// `tests/unit` transport test `test_order_heartbeat_rejection_preserves_id_without_retry`
/// (the body); the official TypeScript SDK's `sendOrderHeartbeat` ("missing
/// the ten-second deadline triggers cancellation of this API key's orders
/// ... retry with its heartbeatId"); issue 13 item 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_heartbeat_id_is_refused_with_the_expected_one_and_keeps_nothing_alive() {
    bounded(60, async {
        let cfg = SimConfig { heartbeat_timeout: Duration::from_secs(1), ..quiet_config(1) };
        let sim = start(cfg).await;
        let m = &markets(&sim)[0];
        let alice = account(&sim, 0).await;
        let id = alice.client.post_heartbeat(None).await.unwrap().heartbeat_id;
        let last_valid = Instant::now();
        let order = alice.signed_limit(m.yes_u256(), SdkSide::Buy, dec!(0.40), dec!(10)).await;
        assert_eq!(alice.post_json(&sim, &order).await.status(), 200);

        // Restarting with an empty id is refused too (well before the deadline).
        assert_eq!(refused_heartbeat(&sim, &alice, String::new()).await, id.to_string());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let expected = refused_heartbeat(&sim, &alice, Uuid::new_v4().to_string()).await;
            if expected.is_empty() {
                // The watchdog fired and the key starts over from "".
                break;
            }
            assert_eq!(expected, id.to_string(), "the refusal names the id to adopt");
            assert!(Instant::now() < deadline, "the watchdog never fired");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let open = sim.state.lock().exchange.open_orders(alice.address, &Query::default());
        assert!(open.is_empty(), "cancelled: refused heartbeats do not count");
        assert!(last_valid.elapsed() >= Duration::from_millis(990), "not before the deadline");
        sim.shutdown().await;
    })
    .await;
}
