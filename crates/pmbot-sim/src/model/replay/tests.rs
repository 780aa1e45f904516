use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use pmbot_core::{Side, TokenId};

use super::*;
use crate::engine::Level;
use crate::model::testkit::FakeExchange;

const START: i64 = 1_800_000_000_000;

/// The recorded BTC 15-minute data, or `None` (with a notice) when this
/// checkout has no `shared/data` beside it.
fn recorded_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/resolvedkit-btc15m");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} not found; skipping a test that needs the recorded data", dir.display());
        None
    }
}

/// The recorded winners, read independently of the replay's own parser.
fn recorded_winners(dir: &Path) -> BTreeMap<ConditionId, &'static str> {
    std::fs::read_to_string(dir.join(MARKETS_FILE))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let id = ConditionId::parse(v["market_id"].as_str().unwrap()).unwrap();
            (id, if v["payout_up"].as_f64() == Some(1.0) { "Up" } else { "Down" })
        })
        .collect()
}

/// The fake's primary book as replay levels.
fn book_levels(fake: &FakeExchange, up: &TokenId) -> Levels {
    let book = fake.book(up).unwrap();
    let mut out = Levels::new();
    for Level { price, size } in &book.bids {
        out.insert((QuoteSide::Bid, *price), *size);
    }
    for Level { price, size } in &book.asks {
        out.insert((QuoteSide::Ask, *price), *size);
    }
    out
}

struct Run {
    source: ReplaySource,
    fake: FakeExchange,
    steps: Vec<(i64, Vec<ModelAction>)>,
}

/// Replays to the end; after every step checks that each listed market's
/// book is exactly what the replay maker aimed for.
fn replay_all(dir: &Path, opts: ReplayOptions) -> Run {
    let mut source = ReplaySource::open(dir, opts).unwrap();
    let mut fake = FakeExchange::default();
    let mut steps = Vec::new();
    let mut now = source.next_step_ms();
    while !source.is_finished() {
        let actions = source.step(now, &fake);
        fake.apply(now, &actions);
        for m in &source.markets {
            if m.phase == Phase::Listed {
                let up = &m.spec.tokens[0].token_id;
                assert_eq!(book_levels(&fake, up), m.applied, "{} at {now}", m.spec.slug);
            }
        }
        steps.push((now, actions));
        let next = source.next_step_ms();
        assert!(next >= now, "time runs forward");
        now = next;
        assert!(steps.len() < 100_000, "the replay does not end");
    }
    assert_eq!(source.next_step_ms(), i64::MAX);
    Run { source, fake, steps }
}

#[test]
fn replays_the_recorded_markets_to_their_recorded_winners() {
    let Some(dir) = recorded_data() else { return };
    let opts = ReplayOptions { pace: ReplayPace::AsFastAsCalled, ..ReplayOptions::new(START) };
    let Run { source, fake, steps } = replay_all(&dir, opts);
    let winners = recorded_winners(&dir);

    let mut listed: BTreeMap<ConditionId, MarketSpec> = BTreeMap::new();
    let mut resolved = BTreeMap::new();
    let mut finer_prices = 0;
    for (_, actions) in &steps {
        for a in actions {
            match a {
                ModelAction::List(spec) => {
                    assert!(listed.insert(spec.condition_id, spec.clone()).is_none());
                }
                ModelAction::Resolve { market, winning_token } => {
                    let spec = &listed[market];
                    let outcome = &spec.tokens.iter().find(|t| t.token_id == *winning_token).unwrap().outcome;
                    resolved.insert(*market, outcome.clone());
                }
                ModelAction::Place(o) => {
                    assert_eq!((o.side, o.maker), (Side::Buy, source.house_account().address));
                    assert!(o.size >= Size::from_shares(5));
                    if !o.price.is_on_tick(TickSize::Hundredth) {
                        finer_prices += 1;
                    }
                }
                _ => {}
            }
        }
    }
    assert_eq!(listed.len(), 13);
    assert_eq!(resolved.len(), 13);
    for (market, outcome) in &resolved {
        assert_eq!(outcome, winners[market], "{}", listed[market].slug);
    }
    for spec in listed.values() {
        let [up, down] = &spec.tokens;
        assert_eq!((up.outcome.as_str(), down.outcome.as_str()), ("Up", "Down"));
        assert!((77..=78).contains(&up.token_id.as_str().len()) && up.token_id != down.token_id);
        assert!(spec.slug.starts_with("btc-updown-15m-"));
        assert_eq!(spec.fee, FeeSchedule::crypto());
    }
    assert_eq!(fake.problems, Vec::<String>::new());
    assert_eq!(fake.resolutions.len(), 13);

    let stats = source.stats();
    eprintln!("{stats:?}");
    assert_eq!(stats.markets, 13);
    assert_eq!(stats.malformed_rows, 0, "{:?}", source.row_errors());
    assert_eq!(stats.rows_read, 27_480);
    // Rows keep coming for up to a minute after a market ends.
    assert!(stats.rows_after_end > 0);
    assert!(stats.mirror_checked > 13_000, "{}", stats.mirror_checked);
    // A handful of pairs differ in a level's size (the two sides were not
    // captured at quite the same moment).
    assert!(stats.mirror_mismatches < stats.mirror_checked / 500, "{}", stats.mirror_mismatches);
    assert_eq!(stats.crossed_snapshots, 6);
    // Near 0/1 the recording uses the 0.001 tick, placed as recorded once
    // the exchange has switched to it.
    assert!(finer_prices > 0);
}

#[test]
fn books_follow_the_recorded_snapshots() {
    let Some(dir) = recorded_data() else { return };
    let opts = ReplayOptions { pace: ReplayPace::AsFastAsCalled, ..ReplayOptions::new(START) };
    let mut source = ReplaySource::open(&dir, opts).unwrap();
    let mut fake = FakeExchange::default();
    // Independently of the replay's parser: the first recorded UP snapshot.
    let first_up: serde_json::Value = {
        use std::io::BufRead;
        let file = std::fs::File::open(dir.join(BOOKS_FILE)).unwrap();
        let reader = std::io::BufReader::new(flate2::read::MultiGzDecoder::new(file));
        let line = reader.lines().map(Result::unwrap).find(|l| l.contains("\"side\":\"UP\"")).unwrap();
        serde_json::from_str(&line).unwrap()
    };
    let market = ConditionId::parse(first_up["market_id"].as_str().unwrap()).unwrap();
    let up_ts = first_up["ts"].as_i64().unwrap();
    let mut now = source.next_step_ms();
    loop {
        let actions = source.step(now, &fake);
        fake.apply(now, &actions);
        now = source.next_step_ms();
        if source.markets[source.index[&market]].last_rows[0].as_ref().is_some_and(|s| s.ts == up_ts) {
            break;
        }
    }
    let spec = source.markets.iter().find(|m| m.spec.condition_id == market).unwrap().spec.clone();
    let book = fake.book(&spec.tokens[0].token_id).unwrap();
    let recorded = |side: &str| -> Vec<(Price, Size)> {
        first_up[side]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (Price::parse(&l[0].to_string()).unwrap(), Size::parse(&l[1].to_string()).unwrap()))
            .collect()
    };
    let shown = |levels: &[Level]| levels.iter().map(|l| (l.price, l.size)).collect::<Vec<_>>();
    assert_eq!(shown(&book.bids), recorded("bids"));
    assert_eq!(shown(&book.asks), recorded("asks"));
    // The Down token's book is the mirror.
    let down = fake.book(&spec.tokens[1].token_id).unwrap();
    assert_eq!(down.bids[0].price, book.asks[0].price.complement());
}

#[test]
fn real_time_pace_maps_recorded_time_and_resolves_at_the_end() {
    let Some(dir) = recorded_data() else { return };
    let opts = ReplayOptions { pace: ReplayPace::from_speed(120.0).unwrap(), ..ReplayOptions::new(START) };
    let Run { source, fake, steps } = replay_all(&dir, opts);
    assert_eq!(steps[0].0, START);
    assert!(matches!(steps[0].1[0], ModelAction::Fund { .. }));
    assert!(matches!(steps[0].1[1], ModelAction::List(_)), "the first market is listed at the start");
    let ends: BTreeMap<ConditionId, i64> =
        source.markets().iter().map(|s| (s.condition_id, s.end_ms.unwrap())).collect();
    let mut resolves = 0;
    for (now, actions) in &steps {
        for a in actions {
            if let ModelAction::Resolve { market, .. } = a {
                assert_eq!(*now, ends[market], "resolved exactly at the mapped end");
                resolves += 1;
            }
        }
    }
    assert_eq!(resolves, 13);
    // 3.5 recorded hours at 120x is under two minutes of exchange time.
    let (first, last) = (steps.first().unwrap().0, steps.last().unwrap().0);
    assert!((90_000..120_000).contains(&(last - first)), "{}", last - first);
    assert_eq!(fake.problems, Vec::<String>::new());
    assert!(source.describe().starts_with("replay: 13 markets from "));
}

#[test]
fn a_market_filter_replays_only_those_markets() {
    let Some(dir) = recorded_data() else { return };
    let winners = recorded_winners(&dir);
    let third = *winners.keys().nth(2).unwrap();
    let opts =
        ReplayOptions { pace: ReplayPace::AsFastAsCalled, markets: Some(vec![third]), ..ReplayOptions::new(START) };
    let Run { source, steps, .. } = replay_all(&dir, opts);
    let lists: Vec<_> = steps.iter().flat_map(|(_, a)| a).filter(|a| matches!(a, ModelAction::List(_))).collect();
    assert_eq!(lists.len(), 1);
    assert_eq!(source.stats().markets, 1);
    assert!(source.stats().rows_read > 1_000 && source.stats().rows_read < 3_000);
    assert_eq!(source.stats().malformed_rows, 0);

    let unknown = ConditionId::parse(&format!("0x{}", "ab".repeat(32))).unwrap();
    let opts = ReplayOptions { markets: Some(vec![unknown]), ..ReplayOptions::new(START) };
    assert!(matches!(ReplaySource::open(&dir, opts), Err(ReplayError::UnknownMarket(id)) if id == unknown));
}

/// A scratch directory with the given files (books are gzipped).
fn scratch(name: &str, markets: &str, books: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pmbot-sim-replay-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(MARKETS_FILE), markets).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(books).unwrap();
    std::fs::write(dir.join(BOOKS_FILE), gz.finish().unwrap()).unwrap();
    dir
}

const M1: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";
const M2: &str = "0x2222222222222222222222222222222222222222222222222222222222222222";

fn market_line(id: &str, start: i64, up_won: bool) -> String {
    let (u, d) = if up_won { (1.0, 0.0) } else { (0.0, 1.0) };
    format!(
        r#"{{"market_id":"{id}","slug":"s-{start}","question":"Q","category":"crypto","start_ts":{start},"end_ts":{},"outcome_up":"Up","outcome_down":"Down","payout_up":{u:.1},"payout_down":{d:.1}}}"#,
        start + 60_000
    )
}

fn book_line(id: &str, ts: i64, side: &str, bid: f64, ask: f64) -> String {
    format!(
        r#"{{"market_id":"{id}","ts":{ts},"side":"{side}","bids":[[{bid},100.0],[0.2,3.0]],"asks":[[{ask},50.5]]}}"#
    )
}

#[test]
fn malformed_rows_are_counted_skipped_and_described() {
    let markets =
        [market_line(M1, 1_000_000, true), "{\"market_id\": 5}".to_owned(), market_line(M2, 1_000_000, false)]
            .join("\n");
    let books = [
        book_line(M1, 990_000, "UP", 0.45, 0.47),
        "not json".to_owned(),
        book_line(M1, 991_000, "UP", 0.45, 1.2),
        book_line(&M1.replace('1', "3"), 991_500, "UP", 0.4, 0.5),
        book_line(M2, 992_000, "UP", 0.30, 0.32),
        book_line(M1, 991_800, "UP", 0.45, 0.48),
        book_line(M1, 993_000, "UP", 0.46, 0.45),
        book_line(M1, 994_000, "UP", 0.5, 0.52),
    ]
    .join("\n");
    let mut books = books.into_bytes();
    // A line that is not text at all, after the last good row.
    books.extend_from_slice(b"\n\xff\xfe{}");
    let dir = scratch("malformed", &markets, &books);
    let opts = ReplayOptions { pace: ReplayPace::AsFastAsCalled, ..ReplayOptions::new(START) };
    let Run { source, fake, steps } = replay_all(&dir, opts);
    let stats = source.stats();
    // The bad market row, "not json", the bad price, the unknown market and
    // the row out of time order; the binary line.
    assert_eq!(stats.malformed_rows, 6, "{:?}", source.row_errors());
    assert_eq!(stats.crossed_snapshots, 1);
    assert_eq!(stats.rows_read, 4);
    let described: Vec<String> = source.row_errors().iter().map(ToString::to_string).collect();
    assert!(described[0].starts_with("markets.jsonl line 2: not a valid row"), "{described:?}");
    assert!(described[1].starts_with("books.jsonl.gz line 2: not a valid row"), "{described:?}");
    assert!(described[2].contains("line 3: bad price: 1.2"), "{described:?}");
    assert!(
        described[3].contains("line 4: market 0x3333") && described[3].contains("not in markets.jsonl"),
        "{described:?}"
    );
    assert!(described[4].contains("line 6: timestamp 991800 is before"), "{described:?}");
    // The small level (3 shares) was raised to the minimum; the good rows were applied.
    assert!(stats.levels_raised_to_min > 0);
    assert_eq!(fake.problems, Vec::<String>::new());
    let resolves = steps.iter().flat_map(|(_, a)| a).filter(|a| matches!(a, ModelAction::Resolve { .. })).count();
    assert_eq!(resolves, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_gzip_stream_ends_the_replay_early_but_cleanly() {
    let books = (0..2_000).map(|i| book_line(M1, 990_000 + i * 10, "UP", 0.45, 0.47)).collect::<Vec<_>>().join("\n");
    let dir = scratch("damaged", &market_line(M1, 1_000_000, true), books.as_bytes());
    let path = dir.join(BOOKS_FILE);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let opts = ReplayOptions { pace: ReplayPace::AsFastAsCalled, ..ReplayOptions::new(START) };
    let Run { source, .. } = replay_all(&dir, opts);
    assert!(source.stats().rows_read > 0 && source.stats().rows_read < 2_000);
    assert_eq!(source.stats().malformed_rows, 1);
    assert!(matches!(source.row_errors()[0].problem, RowProblem::Unreadable(_)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_or_unreadable_directory_is_a_typed_error_naming_the_path() {
    let missing = std::env::temp_dir().join(format!("pmbot-sim-no-such-dir-{}", std::process::id()));
    let err = ReplaySource::open(&missing, ReplayOptions::new(START)).err().unwrap();
    assert!(matches!(&err, ReplayError::Directory { path, .. } if *path == missing));
    assert!(err.to_string().contains(&missing.display().to_string()));

    let dir = scratch("nobooks", &market_line(M1, 1_000_000, true), b"");
    std::fs::remove_file(dir.join(BOOKS_FILE)).unwrap();
    let err = ReplaySource::open(&dir, ReplayOptions::new(START)).err().unwrap();
    assert!(matches!(&err, ReplayError::Read { path, .. } if path.ends_with(BOOKS_FILE)), "{err}");
    let err = ReplaySource::open(&dir.join(MARKETS_FILE), ReplayOptions::new(START)).err().unwrap();
    assert!(matches!(err, ReplayError::Directory { .. }), "a file is not a directory");
    std::fs::write(dir.join(MARKETS_FILE), "").unwrap();
    assert!(matches!(ReplaySource::open(&dir, ReplayOptions::new(START)), Err(ReplayError::NoMarkets { .. })));
    std::fs::remove_dir_all(&dir).unwrap();

    assert!(matches!(ReplayPace::from_speed(-1.0), Err(ReplayError::BadSpeed(_))));
    assert!(matches!(ReplayPace::from_speed(f64::NAN), Err(ReplayError::BadSpeed(_))));
    assert_eq!(ReplayPace::from_speed(0.0).unwrap(), ReplayPace::AsFastAsCalled);
}

#[test]
fn levels_finer_than_the_tick_are_merged_outward() {
    let p = |s: &str| Price::parse(s).unwrap();
    let snap = Snapshot {
        market: ConditionId::default(),
        ts: 0,
        side: BookSide::Up,
        bids: vec![
            (p("0.959"), Size::from_shares(10)),
            (p("0.95"), Size::from_shares(20)),
            (p("0.003"), Size::from_shares(9)),
        ],
        asks: vec![
            (p("0.962"), Size::from_shares(4)),
            (p("0.97"), Size::from_shares(6)),
            (p("0.995"), Size::from_shares(7)),
        ],
    };
    let mut stats = ReplayStats::default();
    let got = ReplaySource::target_levels(&snap, TickSize::Hundredth, Size::from_shares(5), &mut stats);
    let want: Levels =
        [((QuoteSide::Bid, p("0.95")), Size::from_shares(30)), ((QuoteSide::Ask, p("0.97")), Size::from_shares(10))]
            .into_iter()
            .collect();
    assert_eq!(got, want);
    assert_eq!((stats.levels_coarsened, stats.levels_raised_to_min), (4, 0));
    // At the finer tick nothing is merged; the 4-share level is raised to 5.
    let got = ReplaySource::target_levels(&snap, TickSize::Thousandth, Size::from_shares(5), &mut stats);
    assert_eq!(got.len(), 6);
    assert_eq!(got[&(QuoteSide::Ask, p("0.962"))], Size::from_shares(5));
    assert_eq!(stats.levels_raised_to_min, 1);
}

#[test]
fn fills_by_other_traders_are_restored_at_the_next_snapshot() {
    let books = [
        book_line(M1, 990_000, "UP", 0.45, 0.47),
        book_line(M1, 991_000, "UP", 0.45, 0.47),
        book_line(M1, 992_000, "UP", 0.45, 0.48),
    ]
    .join("\n");
    let dir = scratch("refill", &market_line(M1, 1_000_000, true), books.as_bytes());
    let opts = ReplayOptions { pace: ReplayPace::AsFastAsCalled, ..ReplayOptions::new(START) };
    let mut source = ReplaySource::open(&dir, opts).unwrap();
    let mut fake = FakeExchange::default();
    let first = source.step(START, &fake);
    fake.apply(START, &first);
    let up = source.markets()[0].tokens[0].token_id.clone();
    assert_eq!(fake.book(&up).unwrap().asks[0].size, Size::parse("50.5").unwrap());
    // Someone buys 20 of the 50.5 offered at 0.47.
    let trader = HouseAccount::derive("test/trader");
    let take = trader.buy(
        derive_hash("test", &[b"take"]),
        &up,
        Price::parse("0.47").unwrap(),
        Size::from_shares(20),
        OrderType::Fak,
    );
    fake.apply(
        START,
        &[ModelAction::Fund { account: trader.address, amount: Usdc::from_whole(100) }, ModelAction::Place(take)],
    );
    assert_eq!(fake.book(&up).unwrap().asks[0].size, Size::parse("30.5").unwrap());
    // The next (identical) snapshot puts the level back; the untouched bids stay.
    let second = source.step(START + 1, &fake);
    assert_eq!(second.iter().filter(|a| matches!(a, ModelAction::Cancel { ids, .. } if ids.len() == 1)).count(), 1);
    assert_eq!(second.iter().filter(|a| matches!(a, ModelAction::Place(_))).count(), 1);
    fake.apply(START + 1, &second);
    assert_eq!(fake.book(&up).unwrap().asks[0].size, Size::parse("50.5").unwrap());
    // Then the ask moves: one cancel and one new order.
    let third = source.step(START + 2, &fake);
    fake.apply(START + 2, &third);
    assert_eq!(fake.book(&up).unwrap().asks[0].price, Price::parse("0.48").unwrap());
    assert_eq!(fake.problems, Vec::<String>::new());
    std::fs::remove_dir_all(&dir).unwrap();
}
