//! One way to stop every long-running command (`paper`, `live`, `backtest`,
//! `record`, `watch`, `sim`).
//!
//! Invariant: the first SIGTERM or SIGINT asks the command to stop: it takes
//! no new decisions, flushes the journal, writes the run's end and its
//! report, stops its servers and exits 0. A second signal exits at once with
//! 128 + the signal's number, and so does a stop that takes longer than
//! `[shutdown] timeout`. Either way the journal stays consistent: every write
//! is one SQLite transaction, so a process that dies between two commits
//! keeps everything committed and nothing half-written.
//!
//! SIGTERM is what systemd, containers and `kill` send; SIGINT is Ctrl-C.
//! Once this module listens for them their default action (die at once) is
//! gone for the life of the process, which is why the second signal and the
//! timeout are handled here.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use serde::Deserialize;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;

/// The `[shutdown]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// Longest time from the first signal to the exit: a stop that takes
    /// longer (a hung exchange during live's cancels, say) exits anyway.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig { timeout: Duration::from_secs(30) }
    }
}

/// A stop signal the process listens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Term,
    Int,
}

impl StopSignal {
    /// The signal's number (Linux, and every Unix pmbot builds on).
    pub fn number(self) -> i32 {
        match self {
            StopSignal::Term => 15,
            StopSignal::Int => 2,
        }
    }

    fn from_number(n: i32) -> Option<StopSignal> {
        match n {
            15 => Some(StopSignal::Term),
            2 => Some(StopSignal::Int),
            _ => None,
        }
    }

    /// The name, as the run's end and the screen give it.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Term => "SIGTERM",
            StopSignal::Int => "SIGINT",
        }
    }

    /// The exit status of a process that a signal ended without a clean stop.
    pub fn exit_status(self) -> i32 {
        128 + self.number()
    }
}

/// What a signal does, given whether a stop was already asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSignal {
    /// The first one: stop cleanly, within the timeout.
    Stop,
    /// A second one: exit now with this status.
    ExitNow(i32),
}

/// The rule, apart from the signal plumbing.
pub fn on_signal(already_stopping: bool, signal: StopSignal) -> OnSignal {
    if already_stopping { OnSignal::ExitNow(signal.exit_status()) } else { OnSignal::Stop }
}

/// The handle a command polls (`requested`, in a synchronous loop) or awaits
/// (`wait`, in a `select!`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// 0 until a stop is asked for, then the first signal's number.
    signal: AtomicI32,
    notify: Notify,
}

impl Shutdown {
    /// Starts listening for SIGTERM and SIGINT. Call inside the runtime.
    pub fn install(cfg: &ShutdownConfig) -> std::io::Result<Shutdown> {
        let shutdown = Shutdown::unarmed();
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let inner = shutdown.inner.clone();
        let timeout = cfg.timeout;
        tokio::spawn(async move {
            loop {
                let received = tokio::select! {
                    Some(()) = term.recv() => StopSignal::Term,
                    Some(()) = int.recv() => StopSignal::Int,
                    else => return,
                };
                let already = inner.signal.load(Ordering::SeqCst) != 0;
                match on_signal(already, received) {
                    OnSignal::Stop => {
                        inner.signal.store(received.number(), Ordering::SeqCst);
                        inner.notify.notify_waiters();
                        eprintln!(
                            "pmbot: {} received: finishing the run (journal, run end, report); a second signal \
                             exits at once",
                            received.name()
                        );
                        arm_timeout(timeout, received);
                    }
                    OnSignal::ExitNow(status) => {
                        eprintln!("pmbot: second signal ({}): exiting now", received.name());
                        std::process::exit(status);
                    }
                }
            }
        });
        Ok(shutdown)
    }

    /// A handle no signal reaches (for tests, and for commands run from
    /// other code).
    pub fn unarmed() -> Shutdown {
        Shutdown { inner: Arc::new(Inner { signal: AtomicI32::new(0), notify: Notify::new() }) }
    }

    /// The signal that asked for a stop, if one did.
    pub fn requested(&self) -> Option<StopSignal> {
        StopSignal::from_number(self.inner.signal.load(Ordering::Relaxed))
    }

    /// Waits until a stop is asked for; at once if it already was.
    pub async fn wait(&self) -> StopSignal {
        loop {
            let notified = self.inner.notify.notified();
            if let Some(s) = self.requested() {
                return s;
            }
            notified.await;
        }
    }
}

/// Exits with the signal's status if the stop has not finished by then.
fn arm_timeout(timeout: Duration, signal: StopSignal) {
    std::thread::spawn(move || {
        std::thread::sleep(timeout);
        eprintln!(
            "pmbot: the run did not stop within {} of {}; exiting (the journal keeps every committed row)",
            humantime::format_duration(timeout),
            signal.name()
        );
        std::process::exit(signal.exit_status());
    });
}

/// Sleeps for `d`, or forever when there is no limit.
pub async fn sleep_or_forever(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_stops_and_a_second_exits_with_its_status() {
        assert_eq!(on_signal(false, StopSignal::Term), OnSignal::Stop);
        assert_eq!(on_signal(false, StopSignal::Int), OnSignal::Stop);
        assert_eq!(on_signal(true, StopSignal::Term), OnSignal::ExitNow(143));
        assert_eq!(on_signal(true, StopSignal::Int), OnSignal::ExitNow(130));
    }

    #[tokio::test]
    async fn wait_returns_once_a_stop_is_asked_for_and_at_once_after() {
        let s = Shutdown::unarmed();
        assert_eq!(s.requested(), None);
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.wait().await }
        });
        tokio::task::yield_now().await;
        s.inner.signal.store(StopSignal::Term.number(), Ordering::SeqCst);
        s.inner.notify.notify_waiters();
        assert_eq!(waiter.await.unwrap(), StopSignal::Term);
        assert_eq!(s.wait().await, StopSignal::Term);
        assert_eq!(s.requested(), Some(StopSignal::Term));
    }

    #[test]
    fn the_timeout_defaults_to_half_a_minute_and_reads_durations() {
        assert_eq!(ShutdownConfig::default().timeout, Duration::from_secs(30));
        let cfg: ShutdownConfig = toml::from_str("timeout = \"5s\"").unwrap();
        assert_eq!(cfg.timeout, Duration::from_secs(5));
        assert!(toml::from_str::<ShutdownConfig>("timout = \"5s\"").is_err());
    }
}
