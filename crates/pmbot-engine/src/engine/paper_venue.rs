//! The paper venue as an [`ExecutionVenue`]: `pmbot_core::PaperVenue`'s
//! simulated matching, in the driver's thread, with every order journaled
//! before the venue sees it and every update and fill journaled as it is
//! made (the journal's source `paper`). A refusal by the venue is journaled
//! as the order's rejection.
//!
//! It keeps no money: each order is checked against the funds the driver
//! passes from the engine's ledger, the run's one account, which books the
//! fills this venue reports (and the payouts at resolution).

use std::collections::BTreeMap;

use pmbot_core::{
    Command, ConditionId, FeeModel, Funds, MarketEvent, OrderIntent, OrderStatus, OrderUpdate, PaperConfig, PaperEvent,
    PaperVenue, Size, TimestampMs, TokenId,
};
use pmbot_rows::{ExecutionVenue, VenueEvent};

use super::{SharedJournal, lock};
use crate::journal::{EngineRow, EventSource, JournalError, PreparedOrder};

/// The paper venue, journaling into the run's journal.
#[derive(Debug)]
pub struct PaperExecution {
    venue: PaperVenue,
    journal: SharedJournal,
    run: i64,
    markets: BTreeMap<TokenId, ConditionId>,
    learnt: Vec<VenueEvent>,
    refused_events: u64,
    refused_orders: u64,
}

impl PaperExecution {
    /// A paper venue for run `run`: its order ids in the run's id space, so
    /// runs sharing a journal never reuse one.
    pub fn new(config: PaperConfig, journal: SharedJournal, run: i64) -> PaperExecution {
        let space = u32::try_from(run).unwrap_or(u32::MAX);
        PaperExecution {
            venue: PaperVenue::new(config).with_id_space(space),
            journal,
            run,
            markets: BTreeMap::new(),
            learnt: Vec::new(),
            refused_events: 0,
            refused_orders: 0,
        }
    }

    /// The simulated exchange itself.
    pub fn venue(&self) -> &PaperVenue {
        &self.venue
    }

    /// Market events the venue refused (its book stays as it was).
    pub fn refused_events(&self) -> u64 {
        self.refused_events
    }

    /// Orders the venue refused (journaled as rejections).
    pub fn refused_orders(&self) -> u64 {
        self.refused_orders
    }

    fn place(&mut self, intent: OrderIntent, at: TimestampMs, funds: Funds) -> Result<(), JournalError> {
        let Some(market) = self.markets.get(&intent.token).copied() else {
            // The engine orders only on the markets it was given, which the
            // driver lists here too: refused (and journaled as a refusal),
            // never sent without its market.
            let reason = "paper venue: an order for a token of no listed market";
            lock(&self.journal).record_refusal(&intent, reason, at)?;
            self.reject(intent, None, reason.into(), at);
            return Ok(());
        };
        let body = serde_json::to_string(&intent).unwrap_or_default();
        let prepared = PreparedOrder {
            client_order_id: intent.client_order_id.clone(),
            order_hash: self.venue.next_order_id(),
            salt: 0,
            intent: intent.clone(),
            market,
            body,
            created: at,
        };
        {
            let mut journal = lock(&self.journal);
            journal.record_order(&prepared)?;
            journal.record_rows(&[EngineRow::RunOrder {
                run: self.run,
                client_order_id: intent.client_order_id.clone(),
                market,
            }])?;
        }
        match self.venue.place(intent.clone(), at, funds) {
            Ok(out) => self.journal_events(out),
            Err(refused) => {
                self.refused_orders += 1;
                let update = self.reject(intent, Some(prepared.order_hash), format!("paper venue: {refused}"), at);
                lock(&self.journal).record_update(&update, EventSource::Paper, None)?;
                Ok(())
            }
        }
    }

    /// The engine's rejection of `intent` (queued for it; journaling is
    /// the caller's).
    fn reject(
        &mut self,
        intent: OrderIntent,
        order_id: Option<pmbot_core::OrderId>,
        reason: String,
        at: TimestampMs,
    ) -> OrderUpdate {
        let update = OrderUpdate {
            client_order_id: intent.client_order_id,
            order_id,
            status: OrderStatus::Rejected,
            filled: Size::ZERO,
            reason: Some(reason),
            at,
        };
        self.learnt.push(VenueEvent::Update(update.clone()));
        update
    }

    /// The venue's events, journaled, for the engine.
    fn journal_events(&mut self, events: Vec<PaperEvent>) -> Result<(), JournalError> {
        for event in events {
            match event {
                PaperEvent::Order(update) => {
                    lock(&self.journal).record_update(&update, EventSource::Paper, None)?;
                    self.learnt.push(VenueEvent::Update(update));
                }
                PaperEvent::Fill(fill) => {
                    lock(&self.journal).record_fill(&fill)?;
                    self.learnt.push(VenueEvent::Fill(fill));
                }
            }
        }
        Ok(())
    }
}

impl ExecutionVenue for PaperExecution {
    type Error = JournalError;

    fn list_market(&mut self, market: ConditionId, tokens: [&TokenId; 2], fee: FeeModel) {
        for token in tokens {
            self.venue.set_fee(token.clone(), fee);
            self.markets.insert(token.clone(), market);
        }
    }

    fn execute(&mut self, command: Command, at: TimestampMs, funds: Funds) -> Result<(), JournalError> {
        let at = at.max(self.venue.now());
        match command {
            Command::Place(intent) => self.place(intent, at, funds),
            Command::Cancel { client_order_id, .. } => match self.venue.cancel(&client_order_id, at) {
                Ok(out) => self.journal_events(out),
                Err(_) => Ok(()),
            },
            // The paper venue cancels nothing on its own; the engine only
            // sends single cancels today.
            Command::CancelAll { .. } => Ok(()),
        }
    }

    fn on_market_event(&mut self, event: &MarketEvent, _at: TimestampMs) -> Result<(), JournalError> {
        match self.venue.on_market_event(event) {
            Ok(out) => self.journal_events(out),
            Err(_) => {
                self.refused_events += 1;
                Ok(())
            }
        }
    }

    fn advance_to(&mut self, at: TimestampMs) -> Result<(), JournalError> {
        match self.venue.advance_to(at) {
            Ok(out) => self.journal_events(out),
            Err(_) => Ok(()),
        }
    }

    fn clock(&self) -> Option<TimestampMs> {
        Some(self.venue.now())
    }

    fn take_events(&mut self, into: &mut Vec<VenueEvent>) {
        into.append(&mut self.learnt);
    }

    fn in_flight(&self) -> usize {
        0
    }
}
