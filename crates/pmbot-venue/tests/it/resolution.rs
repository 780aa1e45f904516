//! The REST fallback for resolutions the market channel missed, against the
//! simulator over loopback: `GET /markets/{condition_id}` read through the
//! official SDK says "not yet" while a market trades and names its winner
//! once it resolves; the fallback hands the resolution over once, and asks
//! no more.

use crate::gateway_support;

use std::time::Duration;

use gateway_support::{bounded, quiet_sim, start_sim};
use pmbot_core::{ConditionId, TimestampMs, TokenId};
use pmbot_venue::marketdata::resolution::{ResolutionClient, ResolutionError, ResolutionFallback, RestResolution};

fn first_market(sim: &pmbot_sim::SimHandle) -> (ConditionId, TokenId, TokenId) {
    sim.state.with_exchange(|ex, _| {
        let m = &ex.markets()[0].spec;
        (m.condition_id, m.tokens[0].token_id.clone(), m.tokens[1].token_id.clone())
    })
}

#[tokio::test]
async fn rest_says_unresolved_until_the_market_resolves_then_names_the_winner() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let (market, up, down) = first_market(&sim);
        let client = ResolutionClient::new(&sim.rest_url(), Duration::from_secs(5)).unwrap();
        let at = TimestampMs::from_millis(1_000);
        assert_eq!(client.ask(market, at).await.unwrap(), RestResolution::Unresolved);

        sim.state.with_exchange(|ex, now| ex.resolve(&market, &down, now)).unwrap();
        let RestResolution::Resolved(r) = client.ask(market, at).await.unwrap() else {
            panic!("a resolved market read as unresolved")
        };
        assert_eq!(r.market, market);
        assert_eq!(r.winning_token, down);
        assert_eq!(r.tokens, vec![up, down]);
        assert_eq!(r.time.received, at);
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_unknown_market_or_a_dead_exchange_is_an_error_not_a_resolution() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let unknown = ConditionId::parse(&format!("0x{}", "ab".repeat(32))).unwrap();
        let client = ResolutionClient::new(&sim.rest_url(), Duration::from_secs(5)).unwrap();
        let err = client.ask(unknown, TimestampMs::ZERO).await.unwrap_err();
        assert!(matches!(err, ResolutionError::Request { .. }), "{err}");
        sim.shutdown().await;

        // Nothing listens on port 9 of loopback.
        let dead = ResolutionClient::new("http://127.0.0.1:9", Duration::from_secs(2)).unwrap();
        let err = dead.ask(unknown, TimestampMs::ZERO).await.unwrap_err();
        assert!(matches!(err, ResolutionError::Request { .. } | ResolutionError::Timeout { .. }), "{err}");
        assert!(err.to_string().starts_with("GET /markets/0xabab"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn the_fallback_asks_only_after_the_end_and_hands_a_resolution_over_once() {
    bounded(60, async {
        let sim = start_sim(quiet_sim(1)).await;
        let (market, _up, down) = first_market(&sim);
        let client = ResolutionClient::new(&sim.rest_url(), Duration::from_secs(5)).unwrap();
        let mut fallback = ResolutionFallback::new(client);
        let end = TimestampMs::from_millis(1_000_000);
        fallback.expect(market, end);

        // Before the end plus the grace: nothing is asked.
        fallback.ask_due(end.plus_millis(29_000), |_| true);
        // After it, asked while unresolved: the answer is waited past.
        fallback.ask_due(end.plus_millis(30_000), |_| true);
        let early = tokio::time::timeout(Duration::from_secs(2), fallback.next()).await;
        assert!(early.is_err(), "an unresolved market was handed over: {early:?}");
        assert_eq!(fallback.waiting(), 1);

        sim.state.with_exchange(|ex, now| ex.resolve(&market, &down, now)).unwrap();
        // The next ask is due 30 s after the first.
        fallback.ask_due(end.plus_millis(59_000), |_| true);
        assert!(tokio::time::timeout(Duration::from_millis(500), fallback.next()).await.is_err());
        fallback.ask_due(end.plus_millis(60_000), |_| true);
        let r = tokio::time::timeout(Duration::from_secs(5), fallback.next()).await.expect("resolution handed over");
        assert_eq!((r.market, r.winning_token), (market, down));
        assert_eq!(fallback.waiting(), 0);

        // Settled: never asked again.
        fallback.ask_due(end.plus_millis(10_000_000), |_| true);
        assert!(tokio::time::timeout(Duration::from_millis(500), fallback.next()).await.is_err());
        sim.shutdown().await;
    })
    .await;
}
