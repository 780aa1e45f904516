//! Crash safety: a child process writes orders, status changes, fills, notes
//! and refusals as fast as it can and is SIGKILLed at a random moment, again
//! and again on the same file. After each kill the journal must open cleanly
//! and hold every write whose call had returned Ok (the child prints a line
//! after each), and nothing partial: every order complete, with its events,
//! its row agreeing with its last event.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::super::{EventSource, Journal};
use super::*;

const CHILD_ENV: &str = "PMBOT_JOURNAL_CRASH_CHILD";
/// Set to repeat a failing run's kill times.
const SEED_ENV: &str = "PMBOT_JOURNAL_CRASH_SEED";
const KILLS: u32 = 24;

/// The writes for order `n`, in the order the child makes them.
fn acknowledged(n: u32) -> pmbot_core::OrderUpdate {
    update(n, OrderStatus::Acknowledged, "0", 1_700_000_050_000 + i64::from(n))
}
fn filled(n: u32) -> pmbot_core::OrderUpdate {
    update(n, OrderStatus::Filled, "10", 1_700_000_060_000 + i64::from(n))
}
fn trade(n: u32) -> Fill {
    fill(n, &format!("trade-{n}"), "10")
}

/// The child: writes until it is killed, printing `<what> <n>` after each
/// write has returned Ok.
#[test]
#[ignore = "child process of sigkill_at_random_points_loses_nothing"]
fn crash_child() {
    let path = std::env::var(CHILD_ENV).expect("run by sigkill_at_random_points_loses_nothing");
    let mut j = Journal::open(&path).unwrap();
    let mut out = std::io::stdout().lock();
    // The test harness has printed the test's name without a line end.
    writeln!(out).unwrap();
    let mut say = |what: &str, n: u32| {
        writeln!(out, "{what} {n}").unwrap();
        out.flush().unwrap();
    };
    let first = j.orders().unwrap().len() as u32;
    for n in first.. {
        j.record_order(&order(n)).unwrap();
        say("sent", n);
        j.record_update(&acknowledged(n), EventSource::Rest, Some("live")).unwrap();
        say("ack", n);
        j.record_fill(&trade(n)).unwrap();
        say("fill", n);
        j.record_update(&filled(n), EventSource::UserChannel, Some("MATCHED")).unwrap();
        say("done", n);
        if n % 3 == 0 {
            j.record_note("crash_test", &json!({"n": n}), TimestampMs(i64::from(n))).unwrap();
            say("note", n);
        }
        if n % 5 == 0 {
            j.record_refusal(&order(n + 1_000_000).intent, "kill switch", TimestampMs(i64::from(n))).unwrap();
            say("refused", n);
        }
    }
}

#[derive(Default)]
struct Acked {
    sent: BTreeSet<u32>,
    ack: BTreeSet<u32>,
    fill: BTreeSet<u32>,
    done: BTreeSet<u32>,
    note: BTreeSet<u32>,
    refused: BTreeSet<u32>,
}

impl Acked {
    fn add(&mut self, line: &str) {
        let Some((what, n)) = line.split_once(' ') else { return };
        let Ok(n) = n.parse::<u32>() else { return };
        let set = match what {
            "sent" => &mut self.sent,
            "ack" => &mut self.ack,
            "fill" => &mut self.fill,
            "done" => &mut self.done,
            "note" => &mut self.note,
            "refused" => &mut self.refused,
            _ => return,
        };
        set.insert(n);
    }
}

/// splitmix64: enough randomness for kill times, reproducible from a seed.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

#[test]
fn sigkill_at_random_points_loses_nothing() {
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64);
    let mut rng = Rng(seed);
    let s = Scratch::new("crash");
    let path = s.journal();
    let mut acked = Acked::default();
    let mut before_first_write = 0;
    for kill in 0..KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["journal::tests::crash::crash_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (first_tx, first_rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let lines = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                if line.starts_with("sent ") {
                    let _ = first_tx.send(());
                }
                lines.push(line);
            }
            lines
        });
        let mut stderr = child.stderr.take().unwrap();
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        // Every fourth kill lands anywhere from start-up on (opening,
        // migrating); the others once the child is writing.
        let delay = if kill % 4 == 0 {
            Duration::from_micros(rng.below(40_000))
        } else {
            first_rx.recv_timeout(Duration::from_secs(60)).expect("the child never wrote");
            Duration::from_micros(rng.below(30_000))
        };
        std::thread::sleep(delay);
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let lines = lines.join().unwrap();
        let errors = errors.join().unwrap();
        assert_eq!(status.signal(), Some(9), "kill {kill} (seed {seed}): child ended by itself: {status}\n{errors}");
        if !lines.iter().any(|l| l.starts_with("sent ")) {
            before_first_write += 1;
        }
        for line in &lines {
            acked.add(line);
        }
        check(&path, &acked).unwrap_or_else(|e| panic!("after kill {kill} (seed {seed}): {e}"));
    }
    let j = Journal::open(&path).unwrap();
    let orders = j.orders().unwrap().len();
    assert!(orders > KILLS as usize, "only {orders} orders over {KILLS} kills (seed {seed})");
    eprintln!(
        "crash test: {KILLS} kills (seed {seed}), {before_first_write} before the child's first write, \
         {orders} orders, {} acknowledged as sent",
        acked.sent.len()
    );
}

/// Everything acknowledged is there, and nothing is partial.
fn check(path: &Path, acked: &Acked) -> Result<(), String> {
    let j = Journal::open(path).map_err(|e| e.to_string())?;
    let orders = j.orders().map_err(|e| e.to_string())?;
    let fills = j.fills().map_err(|e| e.to_string())?;
    // Orders are complete and numbered 0, 1, 2, ...
    for (i, o) in orders.iter().enumerate() {
        let n = i as u32;
        let want = order(n);
        if o.prepared.client_order_id != want.client_order_id
            || o.prepared.intent != want.intent
            || o.prepared.body != want.body
            || o.prepared.salt != want.salt
            || o.prepared.order_hash != want.order_hash
        {
            return Err(format!("order {n} is not what was written: {o:?}"));
        }
        let events = j.order_events(&want.client_order_id).map_err(|e| e.to_string())?;
        let Some(last) = events.last() else { return Err(format!("order {n} has no events")) };
        if events[0].status != OrderStatus::New {
            return Err(format!("order {n}'s first event is {:?}", events[0].status));
        }
        if (last.status, last.filled, last.at) != (o.status, o.filled, o.updated) {
            return Err(format!("order {n}'s row {o:?} disagrees with its last event {last:?}"));
        }
    }
    let recorded: BTreeSet<u32> = (0..orders.len() as u32).collect();
    if !acked.sent.is_subset(&recorded) {
        return Err(format!("acknowledged orders missing: {:?}", acked.sent.difference(&recorded).collect::<Vec<_>>()));
    }
    for &n in &acked.ack {
        let events = j.order_events(&cid(n)).map_err(|e| e.to_string())?;
        if !events.iter().any(|e| e.status == OrderStatus::Acknowledged && e.at == acknowledged(n).at) {
            return Err(format!("order {n}: acknowledged update lost"));
        }
    }
    for f in &fills {
        let n = u32::from_be_bytes(f.order_id.0[28..].try_into().unwrap());
        if *f != trade(n) {
            return Err(format!("fill {f:?} is not what was written"));
        }
    }
    let filled_orders: BTreeSet<u32> =
        fills.iter().map(|f| u32::from_be_bytes(f.order_id.0[28..].try_into().unwrap())).collect();
    if filled_orders.len() != fills.len() {
        return Err("a fill was recorded twice".into());
    }
    if !acked.fill.is_subset(&filled_orders) {
        return Err("acknowledged fill missing".into());
    }
    for &n in &acked.done {
        if orders[n as usize].status != OrderStatus::Filled {
            return Err(format!("order {n}: filled update lost"));
        }
    }
    let notes: BTreeSet<u32> = j
        .notes("crash_test")
        .map_err(|e| e.to_string())?
        .iter()
        .map(|n| n.detail["n"].as_u64().unwrap() as u32)
        .collect();
    if !acked.note.is_subset(&notes) {
        return Err("acknowledged note missing".into());
    }
    let refused: BTreeSet<u32> = j
        .refusals()
        .map_err(|e| e.to_string())?
        .iter()
        .map(|r| r.intent.client_order_id.as_str()[6..].parse::<u32>().unwrap() - 1_000_000)
        .collect();
    if !acked.refused.is_subset(&refused) {
        return Err("acknowledged refusal missing".into());
    }
    Ok(())
}
