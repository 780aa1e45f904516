//! One training/validation sample: a market, a grid time, its features and
//! the direction of the next mid change.
//!
//! Invariant: `features` holds only what was known at `t`; the label looks
//! forward at most one horizon from `t`. The validator relies on both (its
//! purge gap is sized from the horizon), it cannot check them.

use pmbot_core::{ConditionId, TimestampMs};
use serde::{Deserialize, Serialize};

/// Direction of the next change of mid within the horizon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Up,
    Down,
}

impl Label {
    /// 1.0 for up, 0.0 for down: the target of P(up).
    pub fn as_target(self) -> f64 {
        match self {
            Label::Up => 1.0,
            Label::Down => 0.0,
        }
    }

    pub fn from_up(up: bool) -> Label {
        if up { Label::Up } else { Label::Down }
    }

    pub fn is_up(self) -> bool {
        self == Label::Up
    }
}

/// A labelled feature vector on the market-time grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub market: ConditionId,
    pub t: TimestampMs,
    pub features: Vec<f64>,
    pub label: Label,
}
