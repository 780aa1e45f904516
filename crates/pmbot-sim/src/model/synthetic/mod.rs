//! The synthetic market model: rotating binary "Up or Down" markets with a
//! hidden true probability, and house participants that trade around it.
//!
//! Invariants:
//! - Deterministic: every draw comes from a ChaCha8 stream seeded by the
//!   config's seed and the market's slot and window, so the same seed and the
//!   same call times give the same actions.
//! - The number of open markets is constant: when a market resolves (at its
//!   end plus `resolve_delay_ms`) its successor in the same slot is listed in
//!   the same step, with the next window. The initial markets' windows are
//!   staggered so rotations spread out.
//! - Every order is a BUY by a house account funded before it, on the
//!   market's current tick (read from the book), within `[tick, 1 - tick]`,
//!   of at least the minimum size (whole shares) and, for marketable orders,
//!   $1 of notional. Nothing is placed at or after a market's end.
//!
//! Within a step, takers act first (on the book as the view shows it), then
//! makers refresh: a taker races the makers' re-quotes as it would on a real
//! exchange, and a maker sees its fills in the next step.

mod config;
mod participants;
mod process;

use std::collections::{BTreeMap, BTreeSet};

use pmbot_core::{ConditionId, OrderId, Price, Size, TickSize};

pub use config::{
    InformedTakerConfig, MAX_MARKETS, MakerConfig, NoiseTakerConfig, ProbabilityConfig, SyntheticConfig,
    SyntheticConfigError,
};
use participants::{OthersBest, Outcome, informed_buy, ladder, noise_limit, taker_size};
use process::{HiddenProbability, Rng, sigmoid};

use super::ids::{HouseAccount, derive_hash, derive_token_id, digest};
use super::{ExchangeView, MarketSource, ModelAction};
use crate::engine::{BookView, ExchangeKind, Level, MarketSpec, OrderStatus, OrderType, TokenSpec};

/// Noise-taker orders one market sends in one step at most (after a stall
/// the backlog of arrivals is dropped rather than flooding the book).
const MAX_NOISE_ORDERS_PER_STEP: u32 = 4;
/// How quickly a maker's estimation error wanders (OU time constant).
const ESTIMATE_ERROR_TAU_S: f64 = 60.0;

/// Series names, one per slot (slot 8 and on reuse them with a number).
const ASSETS: [(&str, &str); 8] = [
    ("btc", "Bitcoin"),
    ("eth", "Ethereum"),
    ("sol", "Solana"),
    ("xrp", "XRP"),
    ("doge", "Dogecoin"),
    ("bnb", "BNB"),
    ("ada", "Cardano"),
    ("avax", "Avalanche"),
];

/// The synthetic market source (see the module docs).
pub struct SyntheticMarkets {
    cfg: SyntheticConfig,
    accounts: Accounts,
    clock_ms: i64,
    next_step_ms: i64,
    started: bool,
    /// One open market per slot.
    markets: Vec<Market>,
}

struct Accounts {
    makers: Vec<HouseAccount>,
    noise: HouseAccount,
    informed: HouseAccount,
}

impl Accounts {
    fn all(&self) -> impl Iterator<Item = &HouseAccount> {
        self.makers.iter().chain([&self.noise, &self.informed])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum QuoteSide {
    Bid,
    Ask,
}

struct MakerState {
    /// The maker's error about the true log-odds.
    estimate_error: f64,
    error_at_ms: i64,
    next_refresh_ms: i64,
    /// Its orders believed live, by side and primary-book price.
    quotes: BTreeMap<(QuoteSide, Price), OrderId>,
}

struct Market {
    slot: u32,
    spec: MarketSpec,
    end_ms: i64,
    rng: Rng,
    hidden: HiddenProbability,
    next_noise_ms: i64,
    informed_ready_ms: i64,
    makers: Vec<MakerState>,
    orders_placed: u64,
}

impl SyntheticMarkets {
    /// The model at `start_ms`: the configured number of markets, whose
    /// windows end staggered over the next `market_duration_ms`.
    pub fn new(cfg: SyntheticConfig, start_ms: i64) -> Result<SyntheticMarkets, SyntheticConfigError> {
        cfg.validate()?;
        let accounts = Accounts {
            makers: (0..cfg.makers.count).map(|k| HouseAccount::derive(&format!("synthetic/maker-{k}"))).collect(),
            noise: HouseAccount::derive("synthetic/noise-taker"),
            informed: HouseAccount::derive("synthetic/informed-taker"),
        };
        let n = i64::from(cfg.markets);
        let markets = (0..cfg.markets)
            .map(|slot| {
                let end_ms = start_ms + cfg.market_duration_ms * (i64::from(slot) + 1) / n;
                let mut m = Market::new(&cfg, slot, end_ms - cfg.market_duration_ms, start_ms);
                // Bring the hidden process of a market already under way to now.
                m.hidden.advance_to(start_ms, &cfg.probability, &mut m.rng);
                m
            })
            .collect();
        Ok(SyntheticMarkets { cfg, accounts, clock_ms: start_ms, next_step_ms: start_ms, started: false, markets })
    }

    pub fn config(&self) -> &SyntheticConfig {
        &self.cfg
    }

    /// Every account the model trades with (makers, then the noise and the
    /// informed taker).
    pub fn house_accounts(&self) -> Vec<HouseAccount> {
        self.accounts.all().cloned().collect()
    }

    /// The markets currently open (listed, not yet resolved), by slot.
    pub fn open_markets(&self) -> Vec<&MarketSpec> {
        self.markets.iter().map(|m| &m.spec).collect()
    }

    /// The hidden probability that `market`'s primary outcome wins, for
    /// reports and tests (participants other than the informed takers never
    /// see it).
    pub fn hidden_probability(&self, market: &ConditionId) -> Option<f64> {
        self.markets.iter().find(|m| m.spec.condition_id == *market).map(|m| m.hidden.probability())
    }

    fn step_slot(&mut self, i: usize, now: i64, view: &dyn ExchangeView, out: &mut Vec<ModelAction>) {
        loop {
            let m = &mut self.markets[i];
            m.hidden.advance_to(now, &self.cfg.probability, &mut m.rng);
            if now < m.end_ms {
                m.trade(&self.cfg, &self.accounts, now, view, out);
            }
            if now < m.end_ms + self.cfg.resolve_delay_ms {
                return;
            }
            // The draw from the final probability decides the winner.
            let up_wins = m.rng.uniform() < m.hidden.probability();
            let winner = &m.spec.tokens[if up_wins { 0 } else { 1 }];
            out.push(ModelAction::Resolve { market: m.spec.condition_id, winning_token: winner.token_id.clone() });
            for account in self.accounts.all() {
                out.push(ModelAction::Redeem { account: account.address, market: m.spec.condition_id });
            }
            let successor = Market::new(&self.cfg, m.slot, m.end_ms, m.end_ms);
            for account in self.accounts.all() {
                out.push(ModelAction::Fund { account: account.address, amount: self.cfg.house_collateral });
            }
            out.push(ModelAction::List(successor.spec.clone()));
            self.markets[i] = successor;
        }
    }
}

impl Market {
    /// The market of `slot` whose window opens at `window_start_ms`; its
    /// participants start at `active_from_ms`.
    fn new(cfg: &SyntheticConfig, slot: u32, window_start_ms: i64, active_from_ms: i64) -> Market {
        let end_ms = window_start_ms + cfg.market_duration_ms;
        let parts: [&[u8]; 3] = [&cfg.seed.to_be_bytes(), &slot.to_be_bytes(), &window_start_ms.to_be_bytes()];
        let mut rng = Rng::from_seed(digest("synthetic/rng", &parts));
        let hidden = HiddenProbability::new(&mut rng, &cfg.probability, window_start_ms, end_ms);
        let condition_id = derive_hash("synthetic/condition", &parts);
        let spec =
            market_spec(cfg, slot, condition_id, derive_hash("synthetic/question", &parts), window_start_ms, end_ms);
        let first_noise = rng.poisson_gap_ms(cfg.noise.arrivals_per_min / 60_000.0);
        let makers = (0..cfg.makers.count)
            .map(|_| MakerState {
                estimate_error: cfg.makers.estimate_noise_logit * rng.normal(),
                error_at_ms: active_from_ms,
                next_refresh_ms: active_from_ms,
                quotes: BTreeMap::new(),
            })
            .collect();
        Market {
            slot,
            spec,
            end_ms,
            rng,
            hidden,
            next_noise_ms: first_noise.map_or(i64::MAX, |g| active_from_ms.saturating_add(g)),
            informed_ready_ms: active_from_ms,
            makers,
            orders_placed: 0,
        }
    }

    fn next_order_id(&mut self) -> OrderId {
        self.orders_placed += 1;
        derive_hash("synthetic/order", &[&self.spec.condition_id.0, &self.orders_placed.to_be_bytes()])
    }

    fn trade(
        &mut self,
        cfg: &SyntheticConfig,
        accounts: &Accounts,
        now: i64,
        view: &dyn ExchangeView,
        out: &mut Vec<ModelAction>,
    ) {
        let book = view.book(&self.spec.tokens[0].token_id);
        let tick = book.as_ref().map_or(self.spec.tick, |b| b.tick);
        let primary = self.hidden.probability();
        let min_size = self.spec.min_order_size;

        // Noise takers: every arrival due by now, a few at most per step.
        let mut sent = 0;
        while self.next_noise_ms <= now {
            let outcome = if self.rng.coin() { Outcome::Primary } else { Outcome::Secondary };
            let slippage = self.rng.up_to(cfg.noise.max_slippage_ticks);
            let shares = (self.rng.exponential(cfg.noise.mean_size).ceil() as u64).clamp(1, cfg.noise.max_size);
            if sent < MAX_NOISE_ORDERS_PER_STEP
                && let Some(limit) = book.as_ref().and_then(|b| noise_limit(b, outcome, slippage, tick))
            {
                let id = self.next_order_id();
                let token = &self.spec.tokens[outcome.index()].token_id;
                let size = taker_size(shares, limit, min_size);
                out.push(ModelAction::Place(accounts.noise.buy(id, token, limit, size, OrderType::Fak)));
                sent += 1;
            }
            self.next_noise_ms = match self.rng.poisson_gap_ms(cfg.noise.arrivals_per_min / 60_000.0) {
                Some(gap) => self.next_noise_ms.saturating_add(gap),
                None => i64::MAX,
            };
        }

        // Informed takers: pick off asks that are cheap against the truth.
        if cfg.informed.enabled
            && now >= self.informed_ready_ms
            && let Some(b) = &book
            && let Some(buy) = informed_buy(b, primary, &self.spec.fee, cfg.informed.min_edge, tick)
        {
            let wanted = (buy.available.micros() / 1_000_000).min(cfg.informed.max_size);
            let id = self.next_order_id();
            let token = &self.spec.tokens[buy.outcome.index()].token_id;
            let size = taker_size(wanted, buy.limit, min_size);
            out.push(ModelAction::Place(accounts.informed.buy(id, token, buy.limit, size, OrderType::Fak)));
            self.informed_ready_ms = now + cfg.informed.cooldown_ms;
        }

        // Quotes makers place in this step, which the view does not show yet.
        let mut placed = OthersBest::default();
        for k in 0..self.makers.len() {
            if now >= self.makers[k].next_refresh_ms {
                let quoting = Quoting { tick, book: book.as_ref(), placed_this_step: &mut placed };
                self.refresh_maker(k, cfg, &accounts.makers[k], quoting, now, view, out);
            }
        }
    }

    /// Re-quotes maker `k`: keeps its live orders at prices it still wants,
    /// cancels the others and places the missing levels, never crossing what
    /// others quote.
    #[allow(clippy::too_many_arguments)]
    fn refresh_maker(
        &mut self,
        k: usize,
        cfg: &SyntheticConfig,
        account: &HouseAccount,
        quoting: Quoting<'_>,
        now: i64,
        view: &dyn ExchangeView,
        out: &mut Vec<ModelAction>,
    ) {
        let mc = &cfg.makers;
        let tick = quoting.tick;
        let noise = self.rng.normal();
        let maker = &mut self.makers[k];
        // Its own live orders and what is left of them.
        let mut own: BTreeMap<(QuoteSide, Price), Size> = BTreeMap::new();
        maker.quotes.retain(|key, id| match view.order(id) {
            Some(r) if r.status == OrderStatus::Live => {
                own.insert(*key, r.original_size.saturating_sub(r.size_matched));
                true
            }
            _ => false,
        });
        let others = others_best(quoting.book, &own, *quoting.placed_this_step);
        let decay = (-((now - maker.error_at_ms) as f64 / 1000.0) / ESTIMATE_ERROR_TAU_S).exp();
        maker.estimate_error =
            maker.estimate_error * decay + mc.estimate_noise_logit * (1.0 - decay * decay).sqrt() * noise;
        maker.error_at_ms = now;
        maker.next_refresh_ms = now + mc.refresh_ms * (k as i64 + 1);
        let fair = sigmoid(self.hidden.logit() + maker.estimate_error);
        let half_spread = mc.half_spread_ticks + k as f64 * mc.half_spread_step_ticks;
        let (bids, asks) = ladder(fair, half_spread, tick, mc.levels, mc.level_gap_ticks, others);
        let wanted: Vec<(QuoteSide, Price, usize)> = bids
            .iter()
            .enumerate()
            .map(|(j, p)| (QuoteSide::Bid, *p, j))
            .chain(asks.iter().enumerate().map(|(j, p)| (QuoteSide::Ask, *p, j)))
            .collect();
        let wanted_keys: BTreeSet<(QuoteSide, Price)> = wanted.iter().map(|(s, p, _)| (*s, *p)).collect();

        let mut cancels = Vec::new();
        maker.quotes.retain(|key, id| {
            let keep = wanted_keys.contains(key);
            if !keep {
                cancels.push(*id);
            }
            keep
        });
        if !cancels.is_empty() {
            out.push(ModelAction::Cancel { owner: account.address, ids: cancels });
        }
        for (side, price, level) in wanted {
            if self.makers[k].quotes.contains_key(&(side, price)) {
                continue;
            }
            let jitter = 1.0 + mc.size_jitter * (2.0 * self.rng.uniform() - 1.0);
            let shares = (mc.level_size as f64 * (1.0 + mc.level_size_growth * level as f64) * jitter).round() as u64;
            let size = Size::from_shares(shares.max(self.spec.min_order_size.micros().div_ceil(1_000_000)));
            let id = self.next_order_id();
            // A bid at p is a BUY of the primary token at p; an ask at p is a
            // BUY of the other token at 1 - p.
            let (token, own_price) = match side {
                QuoteSide::Bid => (&self.spec.tokens[0].token_id, price),
                QuoteSide::Ask => (&self.spec.tokens[1].token_id, price.complement()),
            };
            out.push(ModelAction::Place(account.buy(id, token, own_price, size, OrderType::Gtc)));
            self.makers[k].quotes.insert((side, price), id);
        }
        let placed = quoting.placed_this_step;
        if let Some(best) = bids.first() {
            placed.bid = Some(placed.bid.map_or(*best, |b| b.max(*best)));
        }
        if let Some(best) = asks.first() {
            placed.ask = Some(placed.ask.map_or(*best, |a| a.min(*best)));
        }
    }
}

/// What a maker quotes against in one step.
struct Quoting<'a> {
    tick: TickSize,
    /// The primary book as the view shows it (before this step's actions).
    book: Option<&'a BookView>,
    /// Best quotes other makers placed earlier in this step.
    placed_this_step: &'a mut OthersBest,
}

/// The best bid and ask of everyone but this maker: the view's levels less
/// the maker's own remaining size there, and what other makers placed in
/// this step.
fn others_best(book: Option<&BookView>, own: &BTreeMap<(QuoteSide, Price), Size>, placed: OthersBest) -> OthersBest {
    let mine = |side, price| own.get(&(side, price)).copied().unwrap_or_default();
    let from_book = |levels: &[Level], side| levels.iter().find(|l| l.size > mine(side, l.price)).map(|l| l.price);
    let (view_bid, view_ask) = match book {
        Some(b) => (from_book(&b.bids, QuoteSide::Bid), from_book(&b.asks, QuoteSide::Ask)),
        None => (None, None),
    };
    OthersBest { bid: view_bid.into_iter().chain(placed.bid).max(), ask: view_ask.into_iter().chain(placed.ask).min() }
}

fn market_spec(
    cfg: &SyntheticConfig,
    slot: u32,
    condition_id: ConditionId,
    question_id: ConditionId,
    window_start_ms: i64,
    end_ms: i64,
) -> MarketSpec {
    let (ticker, name) = ASSETS[slot as usize % ASSETS.len()];
    let round = slot as usize / ASSETS.len();
    let (ticker, name) = if round == 0 {
        (ticker.to_owned(), name.to_owned())
    } else {
        (format!("{ticker}{}", round + 1), format!("{name} {}", round + 1))
    };
    let span = if cfg.market_duration_ms % 60_000 == 0 {
        format!("{}m", cfg.market_duration_ms / 60_000)
    } else {
        format!("{}s", cfg.market_duration_ms / 1000)
    };
    let token_parts = |index: u8| derive_token_id("synthetic/token", &[&condition_id.0, &[index]]);
    MarketSpec {
        condition_id,
        question_id,
        question: format!("{name} Up or Down - {} to {} UTC", utc_text(window_start_ms), utc_text(end_ms)),
        slug: format!("sim-{ticker}-updown-{span}-{}", window_start_ms.div_euclid(1000)),
        description: format!(
            "Simulated market (pmbot sim, seed {}): resolves Up or Down by a draw from the model's hidden probability at the end of the window.",
            cfg.seed
        ),
        tokens: [
            TokenSpec { token_id: token_parts(0), outcome: "Up".to_owned() },
            TokenSpec { token_id: token_parts(1), outcome: "Down".to_owned() },
        ],
        tick: cfg.tick,
        min_order_size: cfg.min_order_size,
        fee: cfg.fee,
        neg_risk: false,
        exchange: ExchangeKind::CtfV2,
        end_ms: Some(end_ms),
        category: cfg.category.clone(),
    }
}

/// `YYYY-MM-DD HH:MM:SS` for a unix-ms time (proleptic Gregorian, UTC).
fn utc_text(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

impl MarketSource for SyntheticMarkets {
    fn step(&mut self, now_ms: i64, view: &dyn ExchangeView) -> Vec<ModelAction> {
        let now = now_ms.max(self.clock_ms);
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            for account in self.accounts.all() {
                out.push(ModelAction::Fund { account: account.address, amount: self.cfg.house_collateral });
            }
            for m in &self.markets {
                out.push(ModelAction::List(m.spec.clone()));
            }
        }
        for i in 0..self.markets.len() {
            self.step_slot(i, now, view, &mut out);
        }
        self.clock_ms = now;
        self.next_step_ms = now + self.cfg.step_interval_ms;
        out
    }

    fn next_step_ms(&self) -> i64 {
        self.next_step_ms
    }

    fn describe(&self) -> String {
        format!(
            "synthetic: {} markets, seed {}, {} s windows, step {} ms",
            self.cfg.markets,
            self.cfg.seed,
            self.cfg.market_duration_ms / 1000,
            self.cfg.step_interval_ms
        )
    }
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl std::fmt::Debug for SyntheticMarkets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyntheticMarkets").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
