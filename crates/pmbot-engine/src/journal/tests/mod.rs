//! Tests of the journal. Shared builders here; one file per concern.

mod concurrency;
mod crash;
mod export;
mod fills;
mod full;
mod observer;
mod open;
mod orders;
mod redemptions;
mod runs;
mod timing;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use pmbot_core::{
    ClientOrderId, ConditionId, DecisionContext, EventTime, Fill, Hash32, Liquidity, OrderId, OrderIntent, OrderStatus,
    OrderType, OrderUpdate, Price, Side, Size, TimestampMs, TokenId, Usdc,
};

use super::{JournalOrder, PreparedOrder};

/// A directory of its own under the system temp dir, removed on drop.
pub(super) struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pmbot-journal-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    pub fn journal(&self) -> PathBuf {
        self.path("journal.sqlite")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(super) const TOKEN_A: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
pub(super) const TOKEN_B: &str = "52114319501245915516055106046884209969926127482827954674443846427813813222426";

pub(super) fn token(s: &str) -> TokenId {
    TokenId::parse(s).unwrap()
}

pub(super) fn market() -> ConditionId {
    ConditionId::parse("0xdd22472e552920b8438158ea7238bfadfa4f736aa4cee91a6b86c39ead110917").unwrap()
}

pub(super) fn cid(n: u32) -> ClientOrderId {
    ClientOrderId::new(format!("pmbot-{n:06}")).unwrap()
}

/// A distinct order hash per `n`.
pub(super) fn hash(n: u32) -> OrderId {
    let mut bytes = [0x5au8; 32];
    bytes[28..].copy_from_slice(&n.to_be_bytes());
    Hash32(bytes)
}

pub(super) fn price(s: &str) -> Price {
    Price::parse(s).unwrap()
}

pub(super) fn size(s: &str) -> Size {
    Size::parse(s).unwrap()
}

/// Order `n`: a GTC buy of 10 shares of token A at 0.52.
pub(super) fn order(n: u32) -> PreparedOrder {
    order_of(n, TOKEN_A, Side::Buy, "0.52", "10")
}

pub(super) fn order_of(n: u32, token_id: &str, side: Side, limit: &str, shares: &str) -> PreparedOrder {
    let intent = OrderIntent {
        client_order_id: cid(n),
        token: token(token_id),
        side,
        limit_price: price(limit),
        size: size(shares),
        order_type: OrderType::Gtc,
        post_only: false,
        expires_at: None,
        decision: DecisionContext {
            probability: Some("0.61".parse().unwrap()),
            confidence: Some("0.22".parse().unwrap()),
            expected_value: Some("0.8715".parse().unwrap()),
            break_even_probability: Some("0.5375".parse().unwrap()),
            size_before_exact_amounts: None,
        },
    };
    // The salt goes past i64::MAX on purpose: it must still round-trip.
    let salt = u64::MAX - u64::from(n);
    let body = format!(
        r#"{{"order":{{"salt":{salt},"maker":"0x70997970c51812dc3a010c7d01b50e0d17dc79c8","tokenId":"{token_id}","side":"{side}","signature":"0x{sig}"}},"owner":"f4f247b7-4ac7-ff29-a152-04fda0a8755a","orderType":"GTC"}}"#,
        sig = "ab".repeat(65),
    );
    PreparedOrder {
        client_order_id: cid(n),
        order_hash: hash(n),
        salt,
        intent,
        market: market(),
        body,
        created: TimestampMs(1_700_000_000_000 + i64::from(n)),
    }
}

pub(super) fn update(n: u32, status: OrderStatus, filled: &str, at: i64) -> OrderUpdate {
    OrderUpdate {
        client_order_id: cid(n),
        order_id: Some(hash(n)),
        status,
        filled: size(filled),
        reason: None,
        at: TimestampMs(at),
    }
}

/// A fill of order `n` (token A, buy) at its limit.
pub(super) fn fill(n: u32, trade: &str, shares: &str) -> Fill {
    fill_of(&order(n), trade, "0.52", shares, Usdc::ZERO, Liquidity::Maker)
}

pub(super) fn fill_of(
    o: &PreparedOrder,
    trade: &str,
    at_price: &str,
    shares: &str,
    fee: Usdc,
    liquidity: Liquidity,
) -> Fill {
    Fill {
        order_id: o.order_hash,
        client_order_id: Some(o.client_order_id.clone()),
        trade_id: trade.to_owned(),
        token: o.intent.token.clone(),
        side: o.intent.side,
        price: price(at_price),
        size: size(shares),
        fee,
        liquidity,
        time: EventTime { received: TimestampMs(1_700_000_100_000), exchange: TimestampMs(1_700_000_099_990) },
    }
}

/// `got` holds exactly what `want` recorded.
pub(super) fn assert_same_order(got: &PreparedOrder, want: &PreparedOrder) {
    assert_eq!(got.client_order_id, want.client_order_id);
    assert_eq!(got.order_hash, want.order_hash);
    assert_eq!(got.salt, want.salt);
    assert_eq!(got.intent, want.intent);
    assert_eq!(got.market, want.market);
    assert_eq!(got.body, want.body);
    assert_eq!(got.created, want.created);
}

pub(super) fn ids(orders: &[JournalOrder]) -> Vec<String> {
    orders.iter().map(|o| o.prepared.client_order_id.to_string()).collect()
}

/// The file's bytes (to show a refused open changed nothing).
pub(super) fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}
