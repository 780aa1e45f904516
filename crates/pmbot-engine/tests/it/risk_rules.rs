//! Every risk rule, end to end: the engine on the paper venue, fed a
//! scripted market, wants to enter; the risk gate refuses; the journal (a
//! real SQLite file) holds a `refused` decision with the rule's code and a
//! detail naming the numbers. (Two limits, `capital_cap` and
//! `max_exposure_per_market`, are kept before the gate by this engine; their
//! tests, at the end, say why and show the limit held.)
//!
//! The set-up is the same throughout: a model that always says P(up) = 0.9,
//! so the strategy is confident and buys the UP token at its best ask (0.50,
//! crypto fees paid in pUSD on top: a budget of 10 pUSD buys 19.32 shares,
//! 9.66 + a 0.3381 fee) as soon as the features have warmed up (3 s of
//! books). `baseline_enters_once_warm` shows that entry going
//! through; each other test changes one thing and shows the rule that stops
//! it.

use crate::common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::{T14, TestDir};
use pmbot_core::{
    BalanceCheck, BookSnapshot, ConditionId, EventTime, FeatureSpec, FeatureVector, FeeModel, Level, MarketEvent,
    MarketResolved, PaperConfig, Predictor, Price, PriceChange, PriceChangeBatch, RiskConfig, Side, Size,
    StrategyConfig, TickSize, TimestampMs, TokenId, Usdc,
};
use pmbot_engine::engine::driver::PaperDriver;
use pmbot_engine::engine::{Engine, EngineSettings, KillSwitchFile, MarketInfo, Redemption};
use pmbot_engine::journal::{DataSource, Decision, DecisionAction, Journal, RunMode, RunStart};

// ---- the scripted world ---------------------------------------------------

/// The run starts at 2026-11-27T14:00:00Z; every time below is ms after it.
const T0: i64 = T14;
const SEC: i64 = 1_000;

fn at(ms: i64) -> TimestampMs {
    TimestampMs::from_millis(T0 + ms)
}

fn price(s: &str) -> Price {
    Price::parse(s).unwrap()
}

fn usdc(s: &str) -> Usdc {
    Usdc::parse(s).unwrap()
}

/// A model that is always this sure the UP token's mid will rise.
struct FixedP(f64);

impl Predictor for FixedP {
    fn p_up(&self, _: &FeatureVector) -> Result<f64, String> {
        Ok(self.0)
    }
}

/// Market `n`: condition id `0x00..0n`, tokens `n001` (UP) and `n002`
/// (DOWN), crypto fees, tick 0.01, 5-share minimum, ending an hour in.
fn market(n: u64) -> MarketInfo {
    MarketInfo {
        market: format!("0x{n:064x}").parse().unwrap(),
        up: TokenId::parse(&format!("{n}001")).unwrap(),
        down: TokenId::parse(&format!("{n}002")).unwrap(),
        end: Some(at(3_600 * SEC)),
        fee: FeeModel::crypto(),
        min_order_size: Size::from_micros(5_000_000),
        tick: TickSize::Hundredth,
    }
}

/// Best bid and ask of both tokens (1000 shares at each).
#[derive(Debug, Clone, Copy)]
struct Quote {
    up: (&'static str, &'static str),
    down: (&'static str, &'static str),
}

/// The UP token at 0.48 / 0.50: a confident model buys 19.32 shares at 0.50.
const CALM: Quote = Quote { up: ("0.48", "0.50"), down: ("0.50", "0.52") };

fn snapshot(m: &MarketInfo, token: &TokenId, (bid, ask): (&str, &str), ms: i64) -> MarketEvent {
    let level = |p: &str| vec![Level { price: price(p), size: Size::from_micros(1_000_000_000) }];
    MarketEvent::Book(BookSnapshot {
        token: token.clone(),
        market: m.market,
        bids: level(bid),
        asks: level(ask),
        tick_size: Some(TickSize::Hundredth),
        last_trade_price: None,
        hash: None,
        time: EventTime { received: at(ms), exchange: at(ms) },
    })
}

fn price_change(m: &MarketInfo, token: &TokenId, side: Side, p: &str, size: u64, ms: i64) -> MarketEvent {
    MarketEvent::PriceChanges(PriceChangeBatch {
        market: m.market,
        changes: vec![PriceChange {
            token: token.clone(),
            side,
            price: price(p),
            size: Size::from_micros(size * 1_000_000),
            best_bid: None,
            best_ask: None,
            hash: None,
        }],
        time: EventTime { received: at(ms), exchange: at(ms) },
    })
}

/// The market resolved: `winner` pays 1 pUSD a share.
fn resolution(m: &MarketInfo, winner: &TokenId, ms: i64) -> MarketEvent {
    MarketEvent::MarketResolved(MarketResolved {
        market: m.market,
        tokens: vec![m.up.clone(), m.down.clone()],
        winning_token: winner.clone(),
        winning_outcome: if *winner == m.up { "Up".into() } else { "Down".into() },
        time: EventTime { received: at(ms), exchange: at(ms) },
    })
}

// ---- the engine under test -------------------------------------------------

/// The model's P(up) throughout: confidence 0.8, well over the 0.4 threshold.
const P_UP: f64 = 0.9;

/// The kill-switch file, in the scenario's directory.
const KILL_FILE: &str = "kill_switch";

/// What a scenario changes; everything else is the real defaults.
#[derive(Default)]
struct Setup {
    strategy: StrategyConfig,
    risk: RiskConfig,
    /// The live balance pre-check's outcome (`NotRequired` on paper).
    balance: Option<BalanceCheck>,
    /// A live run's books of account: payouts owed until redeemed.
    live: bool,
}

/// Short feature windows: a market is ready 3 s after its first book.
const FEATURES: FeatureSpec = FeatureSpec {
    step_ms: 1_000,
    lookbacks_ms: [1_000, 2_000, 3_000],
    volatility_window_ms: 3_000,
    trade_window_ms: 3_000,
};

/// The engine and the paper venue, journaling into a fresh SQLite file.
struct Scenario {
    dir: TestDir,
    journal: PathBuf,
    runner: PaperDriver,
}

impl Scenario {
    fn start(name: &str, setup: Setup) -> Scenario {
        let dir = TestDir::new(&format!("risk-{name}"));
        let path = dir.join("journal.sqlite");
        let journal = Arc::new(Mutex::new(Journal::open(&path).unwrap()));
        let settings = EngineSettings {
            strategy: setup.strategy,
            risk: setup.risk,
            features: FEATURES,
            sample_step_ms: SEC,
            mark_interval_ms: 60 * SEC,
            batch_rows: 64,
        };
        let run = RunStart {
            mode: if setup.live { RunMode::Live } else { RunMode::Paper },
            data_source: DataSource::Simulator,
            config: serde_json::json!({"test": name}),
            model_fingerprint: format!("fixed-{P_UP}"),
            model: serde_json::json!({}),
            pmbot_version: "test".into(),
            gate_override: None,
            started: at(0),
        };
        let kill = Box::new(KillSwitchFile(dir.join(KILL_FILE)));
        let model = Box::new(FixedP(P_UP));
        let mut engine = Engine::start(journal, &run, settings, model, kill, Usdc::from_whole(300)).unwrap();
        if let Some(check) = setup.balance {
            engine.set_balance_check(check);
        }
        if setup.live {
            engine.set_redemption(Redemption::OnConfirmation);
        }
        let runner = PaperDriver::paper(engine, PaperConfig::default());
        Scenario { dir, journal: path, runner }
    }

    fn list(&mut self, m: &MarketInfo) {
        self.runner.list_market(m.clone()).unwrap();
    }

    fn event(&mut self, event: MarketEvent) {
        let received = event.time().received;
        self.runner.on_event(&event, received).unwrap();
    }

    /// Both books of each market, once a second at `from`, `from + 1 s`, ...
    /// while before `to`.
    fn quote(&mut self, markets: &[(&MarketInfo, Quote)], from: i64, to: i64) {
        for ms in (from..to).step_by(SEC as usize) {
            for (m, q) in markets {
                self.event(snapshot(m, &m.up, q.up, ms));
                self.event(snapshot(m, &m.down, q.down, ms));
            }
        }
    }

    /// Time passes without a market event.
    fn advance(&mut self, ms: i64) {
        self.runner.advance_to(at(ms)).unwrap();
    }

    /// Ends the run and opens its journal read-only.
    fn finish(self, ms: i64) -> Finished {
        let (_, rs) = self.runner.finish(at(ms), "end of scenario").unwrap();
        let journal = Journal::open_read_only(&self.journal).unwrap();
        // The run's one account (the ledger) is what the journaled fills and
        // payouts moved, to the micro: the paper venue checked every order
        // against it and kept no money of its own.
        let mut cash = Usdc::from_whole(300);
        let mut fees = Usdc::ZERO;
        for f in journal.fills().unwrap() {
            match f.side {
                Side::Buy => cash -= Usdc::from_price_size_ceil(f.price, f.size),
                Side::Sell => cash += Usdc::from_price_size_floor(f.price, f.size),
            }
            cash -= f.fee;
            fees += f.fee;
        }
        for p in journal.payouts().unwrap() {
            cash += p.amount;
        }
        // (A payout not yet redeemed is owed, not cash.)
        assert_eq!((rs.account.cash + rs.account.unredeemed, rs.account.fees), (cash, fees), "{:?}", rs.account);
        let decisions = journal.decisions().unwrap();
        Finished { _dir: self.dir, journal, decisions }
    }
}

/// A finished scenario's journal.
struct Finished {
    _dir: TestDir,
    journal: Journal,
    decisions: Vec<Decision>,
}

impl Finished {
    /// Decisions where the strategy wanted an order (sent or refused).
    fn intents(&self) -> impl Iterator<Item = &Decision> {
        self.decisions
            .iter()
            .filter(|d| matches!(d.action, DecisionAction::Enter | DecisionAction::Exit | DecisionAction::Refused))
    }

    /// The run's refusals, checked to be some, all of `code`, all entries.
    fn refusals(&self, code: &str) -> Vec<&Decision> {
        let refused: Vec<&Decision> = self.decisions.iter().filter(|d| d.action == DecisionAction::Refused).collect();
        assert!(!refused.is_empty(), "no refusal at all; decisions: {:#?}", self.summary());
        for d in &refused {
            assert_eq!(d.reason, code, "{}", refusal(d));
            assert_eq!(d.detail["wanted"], "enter", "{:?}", d.detail);
            assert_eq!(d.detail["intent"]["side"], "BUY", "{:?}", d.detail);
        }
        refused
    }

    /// Orders the runner sent to the paper venue.
    fn orders(&self) -> usize {
        self.journal.orders().unwrap().len()
    }

    /// One line per decision that is not a warm-up, for failure messages.
    fn summary(&self) -> Vec<String> {
        self.decisions
            .iter()
            .filter(|d| d.action != DecisionAction::NotReady)
            .map(|d| format!("{} {} {:?} {} {}", d.at.millis() - T0, d.market, d.action, d.reason, d.detail))
            .collect()
    }
}

/// The refusal text a decision journaled (the rule and its numbers).
fn refusal(d: &Decision) -> &str {
    d.detail["refusal"].as_str().unwrap_or("")
}

/// The intent a decision journaled: (limit price, size).
fn intent_of(d: &Decision) -> (String, String) {
    let i = &d.detail["intent"];
    (i["limit_price"].as_str().unwrap().to_owned(), i["size"].as_str().unwrap().to_owned())
}

/// Sample times are whole seconds; the first one with warm features for a
/// market whose books start at `from` (3 s of look-back).
fn first_ready(from: i64) -> i64 {
    (from / SEC + 4) * SEC
}

// ---- the control -------------------------------------------------------------

#[test]
fn baseline_enters_once_warm() {
    let a = market(1);
    let mut s = Scenario::start("baseline", Setup::default());
    s.list(&a);
    s.quote(&[(&a, CALM)], 100, 8_100);
    let f = s.finish(8_200);

    let first = f.intents().next().expect("an entry");
    assert_eq!((first.action, first.reason.as_str()), (DecisionAction::Enter, "entry"));
    assert_eq!(first.at, at(first_ready(100)), "the first warm sample enters");
    assert_eq!(intent_of(first), ("0.5".into(), "19.32".into()), "10 pUSD at the 0.50 ask, fee included");
    assert!(f.decisions.iter().all(|d| d.action != DecisionAction::Refused), "{:#?}", f.summary());
    assert_eq!(f.orders(), 1);
    let fills = f.journal.fills().unwrap();
    assert_eq!(fills.len(), 1, "the paper venue filled the entry");
    assert_eq!((fills[0].price, fills[0].size), (price("0.5"), Size::from_micros(19_320_000)));
    // The fee in pUSD: 19.32 x 0.07 x 0.5 x 0.5; every share bought is held.
    assert_eq!(fills[0].fee, usdc("0.3381"));
    // Sent at its decision time (not at the next frame's), filled 250 ms
    // later, and the next sample knows it.
    assert_eq!(f.journal.orders().unwrap()[0].prepared.created, at(4_000));
    assert_eq!(fills[0].time.received, at(4_250));
    let next = f.decisions.iter().find(|d| d.at == at(5_000)).unwrap();
    assert_eq!((next.action, next.reason.as_str()), (DecisionAction::Pass, "holding"));
}

// ---- the rules that stop every order ------------------------------------------

#[test]
fn kill_switch_file_created_mid_run_stops_trading() {
    let (a, b) = (market(1), market(2));
    // A holds its entry 8 s, so its exit is due after the file appears.
    let strategy = StrategyConfig { max_hold_ms: 8_000, ..StrategyConfig::default() };
    let mut s = Scenario::start("kill", Setup { strategy, ..Setup::default() });
    let kill = s.dir.join(KILL_FILE);
    s.list(&a);
    s.list(&b);
    s.quote(&[(&a, CALM)], 100, 9_200);
    // The operator creates the file between two frames; the engine sees it
    // at its next sample (10 s).
    std::fs::write(&kill, b"stop").unwrap();
    s.quote(&[(&a, CALM), (&b, CALM)], 10_100, 20_100);
    std::fs::remove_file(&kill).unwrap();
    s.quote(&[(&a, CALM), (&b, CALM)], 20_100, 25_100);
    let f = s.finish(25_200);

    let killed = |d: &&Decision| d.at >= at(10_000) && d.at < at(20_000);
    let before: Vec<&Decision> = f.intents().filter(|d| d.at < at(10_000)).collect();
    assert_eq!(before.len(), 1, "{:#?}", f.summary());
    assert_eq!((before[0].action, before[0].market), (DecisionAction::Enter, a.market));

    let during: Vec<&Decision> = f.intents().filter(killed).collect();
    assert!(during.iter().all(|d| d.action == DecisionAction::Refused && d.reason == "kill_switch"), "{during:#?}");
    for d in &during {
        assert_eq!(refusal(d), "kill switch: the kill-switch file is present");
    }
    // B's first entry and A's exit (its 8 s are up at 12 s) both wait.
    let b_entry = during.iter().find(|d| d.market == b.market).expect("B wanted in");
    assert_eq!((b_entry.at, &b_entry.detail["wanted"]), (at(first_ready(10_100)), &"enter".into()));
    let a_exit = during.iter().find(|d| d.market == a.market).expect("A wanted out");
    assert_eq!((a_exit.at, &a_exit.detail["wanted"]), (at(12_000), &"exit".into()));
    assert_eq!(a_exit.detail["intent"]["side"], "SELL");
    // Nothing reached the venue while the file was there.
    let orders = f.journal.orders().unwrap();
    assert_eq!(orders.len(), 3, "A's entry and exit, B's entry");
    assert!(orders.iter().all(|o| o.prepared.created < at(10_000) || o.prepared.created >= at(20_000)));

    // Once the file is gone, A exits and B enters.
    let after: Vec<&Decision> = f.intents().filter(|d| d.at >= at(20_000)).collect();
    assert!(after.iter().any(|d| d.action == DecisionAction::Exit && d.market == a.market), "{after:#?}");
    assert!(after.iter().any(|d| d.action == DecisionAction::Enter && d.market == b.market), "{after:#?}");

    let notes = f.journal.notes("kill_switch").unwrap();
    let seen: Vec<(i64, bool)> =
        notes.iter().map(|n| (n.at.millis() - T0, n.detail["present"].as_bool().unwrap())).collect();
    // Noted when the next intent asks (A's exit at 12 s), and when it is gone.
    assert_eq!(seen, vec![(12_000, true), (20_000, false)]);
}

#[test]
fn failed_balance_check_refuses_entries() {
    let a = market(1);
    let reason = "wallet holds 3.5 pUSD, an entry needs 10".to_owned();
    let balance = Some(BalanceCheck::Failed { reason: reason.clone() });
    let mut s = Scenario::start("balance", Setup { balance, ..Setup::default() });
    s.list(&a);
    s.quote(&[(&a, CALM)], 100, 8_100);
    let f = s.finish(8_200);

    let refused = f.refusals("balance_check");
    assert_eq!(refused.len(), 5, "every warm sample, 4 s to 8 s");
    assert_eq!(refusal(refused[0]), format!("balance check failed: {reason}"));
    assert_eq!(intent_of(refused[0]), ("0.5".into(), "19.32".into()));
    assert_eq!(f.orders(), 0);
}

/// A market quoted calmly to 3.2 s, its UP book doubted at 3.5 s by
/// `doubt`, then kept fresh by valid deltas to 8.2 s (only a snapshot
/// restores trust), and quoted again from 8.3 s.
fn doubted_then_quoted(name: &str, doubt: impl FnOnce(&mut Scenario, &MarketInfo)) -> Finished {
    let a = market(1);
    let mut s = Scenario::start(name, Setup::default());
    s.list(&a);
    s.quote(&[(&a, CALM)], 100, 3_200);
    doubt(&mut s, &a);
    for ms in (4_100..8_200).step_by(SEC as usize) {
        s.event(price_change(&a, &a.up, Side::Buy, "0.48", 1_000 + ms as u64 / SEC as u64, ms));
    }
    s.quote(&[(&a, CALM)], 8_300, 10_400);
    let f = s.finish(10_500);
    let refused = f.refusals("book_untrusted");
    let times: Vec<i64> = refused.iter().map(|d| d.at.millis() - T0).collect();
    assert_eq!(times, [4_000, 5_000, 6_000, 7_000, 8_000]);
    // The snapshot at 8.3 s restores it: the next sample enters.
    let next = f.intents().nth(5).expect("an entry after the snapshot");
    assert_eq!((next.action, next.at), (DecisionAction::Enter, at(9_000)));
    f
}

#[test]
fn refused_price_change_leaves_the_book_untrusted_until_a_snapshot() {
    // An ask at 0.505 on a 0.01 tick: the engine's book refuses it.
    let f = doubted_then_quoted("untrusted", |s, a| s.event(price_change(a, &a.up, Side::Sell, "0.505", 10, 3_500)));
    for d in &f.refusals("book_untrusted") {
        assert_eq!(refusal(d), "book untrusted: the token's book is not synced and verified");
        assert_eq!(intent_of(d), ("0.5".into(), "19.32".into()), "the book as it was before the bad update");
    }
}

/// The market-data venue's distrust reaches the engine (issue 14, the live
/// path's trust bug): a book the venue stopped trusting (a lost frame, a
/// disconnect) is refused for orders, though its updates keep coming and
/// are valid, until the next snapshot (a WebSocket `book` or a REST resync).
#[test]
fn a_book_the_venue_distrusts_is_refused_until_a_snapshot() {
    doubted_then_quoted("venue-distrust", |s, a| s.runner.on_book_distrusted(&a.up, at(3_500)).unwrap());
}

#[test]
fn silent_feed_makes_the_book_stale() {
    let a = market(1);
    let risk = RiskConfig { max_book_age_ms: 2_500, ..RiskConfig::default() };
    let mut s = Scenario::start("stale", Setup { risk, ..Setup::default() });
    s.list(&a);
    s.quote(&[(&a, CALM)], 100, 2_100); // books at 0.1 s and 1.1 s, then silence
    s.advance(7_500);
    s.quote(&[(&a, CALM)], 7_600, 9_700);
    let f = s.finish(9_800);

    // Warm from 4 s, when the last book (1.1 s) is 2.9 s old.
    let refused = f.refusals("book_stale");
    assert_eq!(refused[0].at, at(4_000));
    let texts: Vec<&str> = refused.iter().map(|d| refusal(d)).collect();
    let expected =
        [2_900, 3_900, 4_900, 5_900].map(|age| format!("book stale: last update {age} ms ago > max 2500 ms"));
    assert_eq!(texts, expected);
    // The feed back (7.6 s): the next sample enters.
    let next = f.intents().find(|d| d.action != DecisionAction::Refused).unwrap();
    assert_eq!((next.action, next.at), (DecisionAction::Enter, at(8_000)));
}

// ---- the rules that stop entries after losses -----------------------------------

#[test]
fn daily_loss_limit_stops_entries_for_the_day() {
    let (a, b) = (market(1), market(2));
    let risk = RiskConfig { daily_loss_limit: Usdc::from_whole(5), ..RiskConfig::default() };
    let mut s = Scenario::start("daily", Setup { risk, ..Setup::default() });
    s.list(&a);
    s.list(&b);
    s.quote(&[(&a, CALM)], 100, 6_200);
    // A resolves DOWN: the 19.32 UP shares bought for 9.9981 pUSD (fee
    // included) pay nothing.
    s.event(resolution(&a, &a.down, 6_500));
    s.quote(&[(&b, CALM)], 7_100, 12_200);
    let f = s.finish(12_300);

    let trades = f.journal.trades().unwrap();
    assert_eq!(trades.len(), 1);
    assert_eq!((trades[0].pnl(), trades[0].close_reason.as_str()), (usdc("-9.9981"), "resolution"));
    let refused = f.refusals("daily_loss_limit");
    assert!(refused.iter().all(|d| d.market == b.market));
    assert_eq!(refused[0].at, at(first_ready(7_100)));
    assert_eq!(refusal(refused[0]), "daily loss limit: realised -9.9981 USDC today reaches the limit of -5 USDC");
}

#[test]
fn loss_streak_pauses_every_market() {
    let (a, b, c) = (market(1), market(2), market(3));
    let risk = RiskConfig { loss_streak_limit: 2, ..RiskConfig::default() };
    let mut s = Scenario::start("streak", Setup { risk, ..Setup::default() });
    for m in [&a, &b, &c] {
        s.list(m);
    }
    s.quote(&[(&a, CALM), (&b, CALM)], 100, 6_200);
    // Both resolve against their UP positions: two losing closes in a row.
    s.event(resolution(&a, &a.down, 6_500));
    s.event(resolution(&b, &b.down, 6_600));
    s.quote(&[(&c, CALM)], 7_100, 12_200);
    let f = s.finish(12_300);

    let losses: Vec<Usdc> = f.journal.trades().unwrap().iter().map(|t| t.pnl()).collect();
    assert_eq!(losses, vec![usdc("-9.9981"), usdc("-9.9981")]);
    let refused = f.refusals("loss_streak_cooldown");
    assert!(refused.iter().all(|d| d.market == c.market));
    let first = refused[0];
    assert_eq!(first.at, at(first_ready(7_100)));
    // Paused for loss_streak_cooldown_ms (1 h) from the second loss.
    let until = T0 + 6_600 + 3_600_000;
    let left = until - first.at.millis();
    assert_eq!(refusal(first), format!("loss streak cooldown: paused until {until} ({left} ms left)"));
}

#[test]
fn losing_exit_pauses_its_market() {
    let a = market(1);
    let mut s = Scenario::start("market-cooldown", Setup::default());
    s.list(&a);
    // Bought at 0.48 = 12/25: 10 pUSD buys 20.10 shares in lots with their
    // fee (9.648 + 0.35119), but a FAK BUY's pUSD has 2 decimals, so quarters
    // of a share: 20 for 9.6 + a 0.34944 fee. All 20 are held.
    let cheap = Quote { up: ("0.46", "0.48"), down: ("0.52", "0.54") };
    s.quote(&[(&a, cheap)], 100, 5_200);
    // The UP bid drops 4 ticks under the entry: stop-loss, sold at 0.44.
    let fallen = Quote { up: ("0.44", "0.46"), down: ("0.54", "0.56") };
    s.quote(&[(&a, fallen)], 5_300, 9_400);
    let f = s.finish(9_500);

    let exit = f.intents().find(|d| d.action == DecisionAction::Exit).expect("a stop-loss exit");
    assert_eq!((exit.reason.as_str(), exit.at), ("stop_loss", at(6_000)));
    assert_eq!(intent_of(exit), ("0.44".into(), "20".into()), "every share bought is sold");
    let trades = f.journal.trades().unwrap();
    assert_eq!(trades.len(), 1);
    // 20 x 0.44 = 8.8 for the shares less a 0.34496 fee, against 9.94944 paid.
    assert_eq!((trades[0].shares, trades[0].pnl()), (Size::from_micros(20_000_000), usdc("-1.4944")));
    assert_eq!(trades[0].closed, at(6_250), "filled on arrival, 250 ms after the decision");

    // The sale closed the position, and the loss pauses the market at once
    // (not at its resolution).
    let refused = f.refusals("market_cooldown");
    assert_eq!(refused[0].at, at(7_000), "the next sample wants back in");
    let until = T0 + 6_250 + 1_800_000;
    let left = until - refused[0].at.millis();
    assert_eq!(
        refusal(refused[0]),
        format!("market cooldown: market {} paused after a loss until {until} ({left} ms left)", a.market)
    );
}

// ---- the rules about the market ---------------------------------------------------

#[test]
fn market_without_an_end_time_is_not_entered() {
    let a = MarketInfo { end: None, ..market(1) };
    let mut s = Scenario::start("end-unknown", Setup::default());
    s.list(&a);
    s.quote(&[(&a, CALM)], 100, 6_100);
    let f = s.finish(6_200);

    let refused = f.refusals("market_end_unknown");
    assert_eq!(refused.len(), 3, "4 s to 6 s");
    assert_eq!(refusal(refused[0]), "market end unknown: cannot check the time to market end");
    assert_eq!(f.orders(), 0);
}

#[test]
fn market_ending_soon_is_not_entered() {
    // 100 s to the end: past the strategy's 30 s, short of the gate's 120 s.
    let a = MarketInfo { end: Some(at(100 * SEC)), ..market(1) };
    let mut s = Scenario::start("end-close", Setup::default());
    s.list(&a);
    s.quote(&[(&a, CALM)], 100, 6_100);
    let f = s.finish(6_200);

    let refused = f.refusals("market_end_too_close");
    assert_eq!(refusal(refused[0]), "market end too close: 96000 ms to end < min 120000 ms");
    assert_eq!(refusal(refused[1]), "market end too close: 95000 ms to end < min 120000 ms");
    assert_eq!(f.orders(), 0);
}

// ---- the rules about the order ----------------------------------------------------

#[test]
fn price_outside_the_band_is_refused() {
    let a = market(1);
    let risk = RiskConfig { min_price: price("0.55"), ..RiskConfig::default() };
    let mut s = Scenario::start("band", Setup { risk, ..Setup::default() });
    s.list(&a);
    s.quote(&[(&a, CALM)], 100, 6_100);
    let f = s.finish(6_200);

    let refused = f.refusals("price_band");
    assert_eq!(refused.len(), 3, "4 s to 6 s");
    assert_eq!(refusal(refused[0]), "price band: limit price 0.5 outside [0.55, 0.95]");
    assert_eq!(f.orders(), 0);
}

#[test]
fn order_above_max_per_trade_is_refused() {
    let a = market(1);
    // The strategy would commit up to 25 pUSD (5% of 300 = 15); the gate allows 8.
    // 15 buys 28.98 shares at 0.50 with their fee (14.49 + 0.50715).
    let strategy = StrategyConfig { max_notional: Usdc::from_whole(25), ..StrategyConfig::default() };
    let risk = RiskConfig { max_per_trade: Usdc::from_whole(8), ..RiskConfig::default() };
    let mut s = Scenario::start("per-trade", Setup { strategy, risk, ..Setup::default() });
    s.list(&a);
    s.quote(&[(&a, CALM)], 100, 6_100);
    let f = s.finish(6_200);

    let refused = f.refusals("max_per_trade");
    assert_eq!(intent_of(refused[0]), ("0.5".into(), "28.98".into()));
    assert_eq!(refusal(refused[0]), "max per trade: order cost 14.99715 USDC > max 8 USDC");
    assert_eq!(f.orders(), 0);
}

#[test]
fn third_position_is_refused_at_two_open() {
    let (a, b, c) = (market(1), market(2), market(3));
    let risk = RiskConfig { max_open_positions: 2, ..RiskConfig::default() };
    let mut s = Scenario::start("open-positions", Setup { risk, ..Setup::default() });
    for m in [&a, &b, &c] {
        s.list(m);
    }
    s.quote(&[(&a, CALM), (&b, CALM), (&c, CALM)], 100, 6_100);
    let f = s.finish(6_200);

    // One sample time, markets in id order: A and B enter, C is refused.
    let first: Vec<(ConditionId, DecisionAction)> =
        f.intents().filter(|d| d.at == at(4_000)).map(|d| (d.market, d.action)).collect();
    assert_eq!(
        first,
        vec![(a.market, DecisionAction::Enter), (b.market, DecisionAction::Enter), (c.market, DecisionAction::Refused)]
    );
    let refused = f.refusals("max_open_positions");
    assert!(refused.iter().all(|d| d.market == c.market));
    assert_eq!(refusal(refused[0]), "max open positions: 2 open, max 2; a new one would exceed it");
    assert_eq!(f.orders(), 2);
}

// ---- the two limits the engine keeps before the gate ---------------------------------
//
// `capital_cap` and `max_exposure_per_market` cannot refuse an entry of this
// engine: the strategy's budget is the room left under the cap (the engine
// passes `cap - committed` as the available capital), and it holds at most
// one position per market, whose cost `max_per_trade` (<= the market limit)
// has already bounded. The gate's own checks are unit tests in pmbot-core
// (`risk::tests`); these show the limits hold end to end without them.

#[test]
fn capital_cap_shrinks_entries_to_the_room_left() {
    let ms: Vec<MarketInfo> = (1..=4).map(market).collect();
    let risk = RiskConfig {
        capital_cap: Usdc::from_whole(25),
        max_per_trade: Usdc::from_whole(10),
        max_exposure_per_market: Usdc::from_whole(10),
        daily_loss_limit: Usdc::from_whole(10),
        ..RiskConfig::default()
    };
    // Each entry may take all the room left (up to its 10 pUSD).
    let strategy = StrategyConfig { capital_fraction: rust_decimal::Decimal::ONE, ..StrategyConfig::default() };
    let mut s = Scenario::start("capital", Setup { strategy, risk, ..Setup::default() });
    for m in &ms {
        s.list(m);
    }
    let quotes: Vec<(&MarketInfo, Quote)> = ms.iter().map(|m| (m, CALM)).collect();
    s.quote(&quotes, 100, 6_100);
    let f = s.finish(6_200);

    let first: Vec<(DecisionAction, String)> =
        f.decisions.iter().filter(|d| d.at == at(4_000)).map(|d| (d.action, d.reason.clone())).collect();
    let enter = (DecisionAction::Enter, "entry".to_owned());
    let pass = (DecisionAction::Pass, "below_minimum_size".to_owned());
    assert_eq!(first, vec![enter.clone(), enter.clone(), enter, pass]);
    // 10 pUSD each (19.32 shares, 9.9981 with the fee), then the 5.0038
    // left: 9.66 shares for 4.99905; then 0.00475, which buys nothing.
    let sizes: Vec<(String, String)> = f.intents().map(intent_of).collect();
    assert_eq!(sizes, [("0.5", "19.32"), ("0.5", "19.32"), ("0.5", "9.66")].map(|(p, s)| (p.into(), s.into())));
    let d = f.decisions.iter().find(|d| d.at == at(4_000) && d.market == ms[3].market).unwrap();
    assert_eq!(d.detail, serde_json::json!({"rule": "below_minimum_size", "size": "0", "minimum": "5"}));
    assert!(f.decisions.iter().all(|d| d.action != DecisionAction::Refused), "{:#?}", f.summary());
    let spent: Usdc =
        f.journal.fills().unwrap().iter().map(|x| Usdc::from_price_size_ceil(x.price, x.size) + x.fee).sum();
    assert_eq!(spent, usdc("24.99525"), "within the cap, with under a lot's cost left");
}

#[test]
fn market_exposure_is_bounded_by_one_position_at_a_time() {
    let a = market(1);
    let risk = RiskConfig {
        max_per_trade: Usdc::from_whole(10),
        max_exposure_per_market: Usdc::from_whole(10),
        ..RiskConfig::default()
    };
    let mut s = Scenario::start("exposure", Setup { risk, ..Setup::default() });
    s.list(&a);
    s.quote(&[(&a, CALM)], 100, 5_200);
    // The bid 6 ticks over the 0.50 entry: take-profit, a gain after both
    // fees (at 3 ticks the fees would make it a loss, and the market would
    // cool down); then back in at 0.58.
    let risen = Quote { up: ("0.56", "0.58"), down: ("0.42", "0.44") };
    s.quote(&[(&a, risen)], 5_300, 8_400);
    let f = s.finish(8_500);

    let seen: Vec<(i64, DecisionAction, String)> =
        f.intents().map(|d| (d.at.millis() - T0, d.action, d.reason.clone())).collect();
    assert_eq!(
        seen,
        vec![
            (4_000, DecisionAction::Enter, "entry".to_owned()),
            (6_000, DecisionAction::Exit, "take_profit".to_owned()),
            (7_000, DecisionAction::Enter, "entry".to_owned()),
        ]
    );
    // The first entry costs all but 0.0019 of the market limit (9.9981 with
    // its fee); the second comes after the first position closed, with
    // nothing left in the market.
    let costs: Vec<(String, String)> = f.intents().map(intent_of).collect();
    // 10 buys 16.74 shares at 0.58 in lots with their fee (9.7092 +
    // 0.28545); 0.58 = 29/50 buys halves of a share.
    assert_eq!(costs[0], ("0.5".into(), "19.32".into()));
    assert_eq!(costs[2], ("0.58".into(), "16.5".into()));
    assert!(f.journal.trades().unwrap()[0].pnl() > Usdc::ZERO);
}

// ---- resolution in a live run: owed until redeemed ----------------------------

/// Not a risk rule, but the same scripted world: in a live run a resolved
/// market's payout is not cash (Polymarket pays only on redemption); it is
/// held as resolved-unredeemed, the driver is asked to redeem the market
/// once, and the payout becomes cash once, when the redemption is confirmed.
/// Cash is what the risk rules spend, so an unredeemed payout cannot fund an
/// entry.
#[test]
fn a_live_payout_is_owed_until_its_redemption_is_confirmed() {
    let a = market(1);
    let mut s = Scenario::start("live-redeem", Setup { live: true, ..Setup::default() });
    s.list(&a);
    // The entry at 4 s fills at 4.25 s; the 5 s sample knows it.
    s.quote(&[(&a, CALM)], 100, 5_200);
    let held = s.runner.engine().positions();
    assert_eq!(held.len(), 1, "the entry filled");
    let cash_before = s.runner.engine().ledger().cash();
    s.event(resolution(&a, &a.up, 5_500));
    let engine = s.runner.engine_mut();
    let payout = Usdc::from_micros(i64::try_from(held[0].shares.micros()).unwrap());
    assert_eq!(engine.ledger().cash(), cash_before, "nothing paid at resolution");
    assert_eq!(engine.ledger().unredeemed(), payout, "owed: 1 pUSD a winning share");
    assert_eq!(engine.take_redemptions(), [a.market], "the driver is asked to redeem");
    assert_eq!(engine.take_redemptions(), [], "once");
    assert_eq!(engine.on_redeemed(&a.market, at(6_000)).unwrap(), Some(payout));
    assert_eq!(engine.on_redeemed(&a.market, at(6_100)).unwrap(), None, "a repeated confirmation adds nothing");
    assert_eq!((engine.ledger().cash(), engine.ledger().unredeemed()), (cash_before + payout, Usdc::ZERO));
    let f = s.finish(7_000);
    let marks = f.journal.marks().unwrap();
    assert!(marks.iter().any(|m| m.unredeemed == payout && m.cash == cash_before), "the resolution's mark: {marks:?}");
    let last = marks.last().unwrap();
    assert_eq!((last.cash, last.unredeemed), (cash_before + payout, Usdc::ZERO));
    // The journal alone cannot know the confirmation (the redeemer's row
    // carries it): a live payout with no confirmed redemption is owed.
    assert_eq!(
        f.journal.unredeemed().unwrap().iter().map(|u| (u.market, u.amount)).collect::<Vec<_>>(),
        [(a.market, payout)]
    );
}

/// A recorded feed whose frame claims to be a feed input and is not stops
/// the backtest with one line naming the folder and the frame, after the
/// inputs before it were taken (the market it listed is followed).
#[test]
fn a_malformed_feed_input_is_one_line_naming_its_frame() {
    use pmbot_engine::backtest::{self, BacktestError, Watch};
    use pmbot_engine::engine::feed_input::FeedInput;
    use pmbot_engine::record::{Recorder, RecorderConfig};
    use pmbot_engine::replay::RecordingReader;

    struct Quiet;
    impl Watch for Quiet {
        fn progress(&mut self, _: &PaperDriver, _: pmbot_core::TimestampMs) {}
        fn stop(&self) -> bool {
            false
        }
    }

    let mut s = Scenario::start("feed-input", Setup::default());
    let rec = s.dir.join("feed");
    let mut recorder = Recorder::create(&rec, RecorderConfig::default(), common::info(T0)).unwrap();
    recorder.record(T0, &FeedInput::Market { info: market(1) }.to_frame(at(0))).unwrap();
    recorder.record(T0 + 1, r#"{"pmbot_feed":{"input":"teleport"},"at":1}"#).unwrap();
    recorder.close().unwrap();

    assert!(backtest::is_feed_recording(&rec).unwrap());
    let mut reader = RecordingReader::open(&rec).unwrap();
    let err = backtest::replay_recording(&mut s.runner, &rec, &mut reader, Vec::new(), &mut Quiet).unwrap_err();
    assert!(matches!(err, BacktestError::Input { frame: 2, .. }), "{err:?}");
    let line = err.to_string();
    assert!(line.contains("frame 2: a malformed feed input") && !line.contains('\n'), "{line}");
    assert_eq!(s.runner.engine().market_count(), 1, "the input before it was taken");
}
