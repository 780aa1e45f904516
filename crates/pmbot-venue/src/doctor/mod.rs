//! The preflight checks of `pmbot doctor`, next to what they check: the
//! key and kill switch, the CLOB and its clock, the markets, the chain
//! (RPC, collateral, allowances) and the market WebSocket. Each returns a
//! [`Check`]: one line, `PASS|FAIL|SKIP  name  figure or reason`, and for a
//! failure how to fix it.
//!
//! Invariants: nothing secret is put in a check (the key never; URLs only
//! as scheme, host, port and, for the exchange, path); nothing is changed
//! and no order is placed.

mod chain;
mod clob;
mod key;
mod markets;
mod stream;

use std::fmt;

pub use chain::{chain_checks, no_rpc_check};
pub use clob::{ClobTime, clob_time, clock_check, describe_reqwest};
pub use key::{key_check, kill_switch_check};
pub use markets::{Named, Target, markets_check};
pub use stream::websocket_check;

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        })
    }
}

/// One check, as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub outcome: Outcome,
    /// The figure (pass), the reason (fail) or what is missing (skip).
    pub detail: String,
    /// How to fix a failure.
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, outcome: Outcome::Pass, detail: detail.into(), fix: None }
    }

    pub fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { name, outcome: Outcome::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }

    pub fn skip(name: &'static str, needs: impl fmt::Display) -> Check {
        Check { name, outcome: Outcome::Skip, detail: format!("skipped: needs {needs}"), fix: None }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  {:<11}  {}", self.outcome, self.name, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n      fix: {fix}")?;
        }
        Ok(())
    }
}

/// The checks so far, each told to `on_each` as it is added (the doctor
/// prints them as they complete).
pub struct Checks {
    checks: Vec<Check>,
    on_each: Box<dyn FnMut(&Check) + Send>,
}

impl fmt::Debug for Checks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checks").field("checks", &self.checks).finish_non_exhaustive()
    }
}

impl Checks {
    pub fn new(on_each: impl FnMut(&Check) + Send + 'static) -> Checks {
        Checks { checks: Vec::new(), on_each: Box::new(on_each) }
    }

    pub fn add(&mut self, check: Check) {
        (self.on_each)(&check);
        self.checks.push(check);
    }

    /// Whether the check `name` passed.
    pub fn passed(&self, name: &str) -> bool {
        self.checks.iter().any(|c| c.name == name && c.outcome == Outcome::Pass)
    }

    pub fn all(&self) -> &[Check] {
        &self.checks
    }

    /// How many failed.
    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| c.outcome == Outcome::Fail).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lines_and_fixes_are_printed_in_the_documented_shape() {
        let c = Check::fail("kill switch", "present at /x", "`pmbot unkill` after checking why it was set");
        assert_eq!(
            c.to_string(),
            "FAIL  kill switch  present at /x\n      fix: `pmbot unkill` after checking why it was set"
        );
        assert_eq!(Check::pass("rpc", "ok").to_string(), "PASS  rpc          ok");
        assert_eq!(
            Check::skip("chain", "a reachable RPC").to_string(),
            "SKIP  chain        skipped: needs a reachable RPC"
        );
    }

    #[test]
    fn clock_skew_passes_within_the_limit_and_fails_beyond() {
        let max = Duration::from_secs(2);
        assert_eq!(clock_check(1_900, max).outcome, Outcome::Pass);
        assert_eq!(clock_check(-1_900, max).outcome, Outcome::Pass);
        let c = clock_check(-2_600, max);
        assert_eq!(c.outcome, Outcome::Fail);
        assert!(c.detail.starts_with("-2.6 s"), "{}", c.detail);
        assert!(c.fix.unwrap().contains("synchronise the system clock"));
    }

    #[test]
    fn failures_are_counted_and_passes_found_by_name() {
        let mut checks = Checks::new(|_| {});
        checks.add(Check::pass("a", ""));
        checks.add(Check::skip("b", "x"));
        assert_eq!(checks.failed(), 0);
        checks.add(Check::fail("c", "", ""));
        assert_eq!(checks.failed(), 1);
        assert!(checks.passed("a") && !checks.passed("b") && !checks.passed("c"));
    }
}
