//! JSON value types of the public REST replies: the real API sends market
//! parameters as JSON numbers and book levels and quotes as decimal strings
//! (`research/polymarket-protocol.md` §1, `polymarket-sdk-notes.md` §1). A
//! client that parses strictly breaks on the wrong one, so the simulator
//! must not swap them.

use crate::common;

use common::*;
use pmbot_core::Side::Buy;

/// `/tick-size`, `/clob-markets` and `/markets` carry numbers; `/book`
/// levels, `/midpoint` and `/spread` carry decimal strings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_and_strings_are_where_the_real_api_puts_them() {
    bounded(60, async {
        let sim = start(quiet_config(1)).await;
        let m = &markets(&sim)[0];
        let h = house(&sim, 0xc1);
        house_order(&sim, h, &m.yes, Buy, "0.40", 10);
        house_order(&sim, h, &m.no, Buy, "0.50", 10);
        let yes = m.yes.as_str();

        let tick = get_json(&sim, &format!("/tick-size?token_id={yes}")).await;
        assert_eq!(tick["minimum_tick_size"].as_f64(), Some(0.01), "{tick}");

        let info = get_json(&sim, &format!("/clob-markets/{}", m.cid_hex())).await;
        assert_eq!(info["mts"].as_f64(), Some(0.01), "{info}");
        assert_eq!(info["mos"].as_f64(), Some(5.0), "{info}");
        assert_eq!(info["fd"]["r"].as_f64(), Some(0.07), "{info}");

        let market = get_json(&sim, &format!("/markets/{}", m.cid_hex())).await;
        assert_eq!(market["minimum_tick_size"].as_f64(), Some(0.01), "{market}");
        assert_eq!(market["minimum_order_size"].as_f64(), Some(5.0), "{market}");
        assert!(market["tokens"].as_array().unwrap().iter().all(|t| t["price"].is_number()), "{market}");

        let book = get_json(&sim, &format!("/book?token_id={yes}")).await;
        for level in book["bids"].as_array().unwrap().iter().chain(book["asks"].as_array().unwrap()) {
            assert!(level["price"].is_string() && level["size"].is_string(), "{book}");
        }
        assert_eq!((book["bids"][0]["price"].as_str(), book["asks"][0]["price"].as_str()), (Some("0.4"), Some("0.5")));
        assert!(book["timestamp"].is_string() && book["min_order_size"].is_string() && book["tick_size"].is_string());
        assert_eq!(get_json(&sim, &format!("/midpoint?token_id={yes}")).await["mid"], "0.45");
        assert_eq!(get_json(&sim, &format!("/spread?token_id={yes}")).await["spread"], "0.1");
        sim.shutdown().await;
    })
    .await;
}
