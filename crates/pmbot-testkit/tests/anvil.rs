//! The harness against a real anvil (skips with a NOTICE when none is installed).

use alloy_primitives::{Address, U256, address};
use pmbot_testkit::{Anvil, CountingProxy, FakeAnswer, FakeRpc, closed_port_url, polygon};
use serde_json::json;

const HOLDER: Address = address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8");

fn pusd(whole: u64) -> U256 {
    U256::from(whole * 1_000_000)
}

#[tokio::test]
async fn anvil_starts_on_polygon_chain_id_and_plants_the_fixtures() {
    let Some(anvil) = Anvil::start() else { return };
    eprintln!("anvil up in {:?} on port {}", anvil.startup(), anvil.port());
    assert_eq!(anvil.rpc("eth_chainId", json!([])).await.unwrap(), json!("0x89"));
    anvil.plant_polymarket().await.unwrap();

    let token = polygon::COLLATERAL;
    // decimals() == 6, straight from the planted runtime code.
    let decimals = anvil.rpc("eth_call", json!([{"to": token, "data": "0x313ce567"}, "latest"])).await.unwrap();
    assert_eq!(U256::from_str_radix(decimals.as_str().unwrap().trim_start_matches("0x"), 16).unwrap(), U256::from(6));

    // Funding, both ways.
    anvil.deal_erc20(token, HOLDER, pusd(2_000)).await.unwrap();
    assert_eq!(anvil.erc20_balance(token, HOLDER).await.unwrap(), pusd(2_000));
    anvil.set_collateral_balance_slot(token, HOLDER, pusd(7)).await.unwrap();
    assert_eq!(anvil.erc20_balance(token, HOLDER).await.unwrap(), pusd(7));
}

#[tokio::test]
async fn allowances_approvals_and_mints_land_on_chain() {
    let Some(anvil) = Anvil::start() else { return };
    anvil.plant_polymarket().await.unwrap();
    let allowance = |spender: Address| {
        let data = format!("0xdd62ed3e{:0>64}{:0>64}", hex(HOLDER.as_slice()), hex(spender.as_slice()));
        let anvil = &anvil;
        async move {
            let out =
                anvil.rpc("eth_call", json!([{"to": polygon::COLLATERAL, "data": data}, "latest"])).await.unwrap();
            U256::from_str_radix(out.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
        }
    };
    anvil.set_erc20_allowance(polygon::COLLATERAL, HOLDER, polygon::EXCHANGE, pusd(5)).await.unwrap();
    assert_eq!(allowance(polygon::EXCHANGE).await, pusd(5));
    anvil.approve_erc20(polygon::COLLATERAL, HOLDER, polygon::NEG_RISK_ADAPTER, U256::MAX).await.unwrap();
    assert_eq!(allowance(polygon::NEG_RISK_ADAPTER).await, U256::MAX);

    let ctf = polygon::CONDITIONAL_TOKENS;
    let id = U256::from(42u64);
    anvil.mint_shares(ctf, HOLDER, id, U256::from(3_000_000u64)).await.unwrap();
    let balance = anvil
        .rpc(
            "eth_call",
            json!([{"to": ctf, "data": format!("0x00fdd58e{:0>64}{:0>64x}", hex(HOLDER.as_slice()), 42)}, "latest"]),
        )
        .await
        .unwrap();
    assert_eq!(
        U256::from_str_radix(balance.as_str().unwrap().trim_start_matches("0x"), 16).unwrap(),
        U256::from(3_000_000u64)
    );
    anvil.set_approval_for_all(ctf, HOLDER, polygon::EXCHANGE, true).await.unwrap();
    let approved = anvil
        .rpc(
            "eth_call",
            json!([{"to": ctf, "data": format!("0xe985e9c5{:0>64}{:0>64}", hex(HOLDER.as_slice()), hex(polygon::EXCHANGE.as_slice()))}, "latest"]),
        )
        .await
        .unwrap();
    assert_eq!(approved, json!(format!("0x{:064x}", 1)));
}

#[tokio::test]
async fn kill_stops_the_node_and_proxy_counts_methods() {
    let Some(mut anvil) = Anvil::start() else { return };
    let proxy = CountingProxy::start(anvil.url()).await;
    let http = reqwest::Client::new();
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber"}
    ]);
    let resp: serde_json::Value = http.post(proxy.url()).json(&batch).send().await.unwrap().json().await.unwrap();
    assert_eq!(resp.as_array().map(Vec::len), Some(2));
    assert_eq!(proxy.posts(), 1);
    assert_eq!(proxy.methods(), ["eth_chainId", "eth_blockNumber"]);
    assert_eq!(proxy.count("eth_chainId"), 1);

    anvil.kill();
    assert!(!anvil.is_running());
    assert!(anvil.rpc("eth_chainId", json!([])).await.is_err(), "a killed anvil still answers");
    // Through the proxy the node's absence shows as 502.
    let status = http.post(proxy.url()).json(&batch).send().await.unwrap().status();
    assert_eq!(status.as_u16(), 502);
    anvil.kill(); // idempotent
}

#[tokio::test]
async fn fakes_answer_as_told() {
    let fake = FakeRpc::start(|method| match method {
        "eth_chainId" => FakeAnswer::Result(json!("0x89")),
        _ => FakeAnswer::Error { code: -32000, message: "nope".into() },
    })
    .await;
    let http = reqwest::Client::new();
    let one: serde_json::Value = http
        .post(fake.url())
        .json(&json!({"jsonrpc": "2.0", "id": 7, "method": "eth_chainId"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one, json!({"jsonrpc": "2.0", "id": 7, "result": "0x89"}));
    let raw = FakeRpc::raw(502, "<html>bad gateway</html>").await;
    let resp = http.post(raw.url()).body("{}").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 502);
    assert_eq!(resp.text().await.unwrap(), "<html>bad gateway</html>");
    assert_eq!(fake.methods(), ["eth_chainId"]);
    // Nothing listens on a closed port.
    assert!(http.post(closed_port_url()).body("{}").send().await.is_err());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
