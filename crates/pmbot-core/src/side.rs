//! Order side.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// BUY or SELL, spelled as the exchange spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown side string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("side {0:?} is neither BUY nor SELL")]
pub struct SideError(pub String);

impl FromStr for Side {
    type Err = SideError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "BUY" | "buy" | "Buy" => Ok(Side::Buy),
            "SELL" | "sell" | "Sell" => Ok(Side::Sell),
            _ => Err(SideError(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spelled_as_the_exchange_does() {
        assert_eq!(serde_json::to_string(&Side::Buy).unwrap(), "\"BUY\"");
        assert_eq!(serde_json::from_str::<Side>("\"SELL\"").unwrap(), Side::Sell);
        assert!("HOLD".parse::<Side>().is_err());
        assert_eq!(Side::Buy.opposite(), Side::Sell);
    }
}
