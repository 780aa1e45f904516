//! The gateway as the engine driver's [`ExecutionVenue`]: commands go out
//! on tasks of their own (a slow reply never holds up the driver); what the
//! gateway learns comes back through its order log ([`Forwarding`]), and a
//! placement refused before the exchange held it comes back as a rejection.
//!
//! Invariant: every update and fill the driver is handed was first written
//! by the order log it wraps (the journal); a placement counts as in flight
//! from the command until its answer has been taken by the driver.

use std::sync::Arc;

use pmbot_core::{
    Clock, Command, ConditionId, FeeModel, Fill, Funds, MarketEvent, OrderIntent, OrderStatus, OrderUpdate, Size,
    TimestampMs, TokenId,
};
use pmbot_rows::{ExecutionVenue, LoggedOrder, OrderLog, OrderLogError, PreparedOrder, VenueEvent};
use tokio::sync::mpsc;

use super::{Gateway, GatewayError};

/// What reaches the driver from the gateway's side.
#[derive(Debug)]
enum Learnt {
    Event(VenueEvent),
    /// A placement's answer is in (its updates, if any, came first).
    Answered,
}

/// An order log that hands every update and new fill it has written on to
/// the driver (through [`LiveExecution`]).
pub struct Forwarding<L> {
    log: L,
    to: mpsc::UnboundedSender<Learnt>,
}

impl<L: OrderLog> OrderLog for Forwarding<L> {
    fn before_send(&mut self, order: &PreparedOrder) -> Result<(), OrderLogError> {
        self.log.before_send(order)
    }

    fn update(&mut self, update: &OrderUpdate) -> Result<(), OrderLogError> {
        self.log.update(update)?;
        let _ = self.to.send(Learnt::Event(VenueEvent::Update(update.clone())));
        Ok(())
    }

    fn fill(&mut self, fill: &Fill) -> Result<bool, OrderLogError> {
        let new = self.log.fill(fill)?;
        if new {
            let _ = self.to.send(Learnt::Event(VenueEvent::Fill(fill.clone())));
        }
        Ok(new)
    }

    fn refusal(&mut self, intent: &OrderIntent, reason: &str, at: TimestampMs) -> Result<(), OrderLogError> {
        self.log.refusal(intent, reason, at)
    }

    fn note(&mut self, kind: &str, detail: &serde_json::Value, at: TimestampMs) -> Result<(), OrderLogError> {
        self.log.note(kind, detail, at)
    }

    fn open_orders(&self) -> Result<Vec<LoggedOrder>, OrderLogError> {
        self.log.open_orders()
    }
}

/// The receiving end of a [`Forwarding`] log, before the gateway exists
/// (the gateway starts with its log).
#[derive(Debug)]
pub struct Learning {
    to: mpsc::UnboundedSender<Learnt>,
    from: mpsc::UnboundedReceiver<Learnt>,
}

impl Learning {
    pub fn new() -> Learning {
        let (to, from) = mpsc::unbounded_channel();
        Learning { to, from }
    }

    /// `log`, forwarding what it writes to this.
    pub fn forwarding<L: OrderLog>(&self, log: L) -> Forwarding<L> {
        Forwarding { log, to: self.to.clone() }
    }
}

impl Default for Learning {
    fn default() -> Learning {
        Learning::new()
    }
}

/// The exchange's gateway as the engine's venue.
pub struct LiveExecution {
    gateway: Gateway,
    learning: Learning,
    clock: Arc<dyn Clock>,
    in_flight: usize,
    learnt: Vec<VenueEvent>,
}

impl std::fmt::Debug for LiveExecution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveExecution").field("in_flight", &self.in_flight).finish_non_exhaustive()
    }
}

impl LiveExecution {
    /// `gateway`, started with a log from `learning`.
    pub fn new(gateway: Gateway, learning: Learning, clock: Arc<dyn Clock>) -> LiveExecution {
        LiveExecution { gateway, learning, clock, in_flight: 0, learnt: Vec::new() }
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// Waits until the gateway has learnt something for the driver (then
    /// [`ExecutionVenue::take_events`] has it). Cancel-safe.
    pub async fn learnt(&mut self) {
        if let Some(learnt) = self.learning.from.recv().await {
            self.keep(learnt);
        }
    }

    fn keep(&mut self, learnt: Learnt) {
        match learnt {
            Learnt::Event(event) => self.learnt.push(event),
            Learnt::Answered => self.in_flight = self.in_flight.saturating_sub(1),
        }
    }

    fn place(&mut self, intent: OrderIntent) {
        self.in_flight += 1;
        let (gateway, to, clock) = (self.gateway.clone(), self.learning.to.clone(), self.clock.clone());
        tokio::spawn(async move {
            let refused = match gateway.place(intent.clone()).await {
                Ok(_) => None,
                // Ambiguous fates are settled by the gateway's sweep, which
                // reports through the order log.
                Err(GatewayError::NotTaken { .. }) => None,
                Err(e) => Some(e.to_string()),
            };
            // Refused or failed before the exchange held it: a rejection,
            // so the engine never waits for an order that does not exist
            // (the gateway journaled the refusal).
            if let Some(why) = refused {
                let update = OrderUpdate {
                    client_order_id: intent.client_order_id.clone(),
                    order_id: None,
                    status: OrderStatus::Rejected,
                    filled: Size::ZERO,
                    reason: Some(why),
                    at: clock.now(),
                };
                let _ = to.send(Learnt::Event(VenueEvent::Update(update)));
            }
            let _ = to.send(Learnt::Answered);
        });
    }
}

impl ExecutionVenue for LiveExecution {
    type Error = std::convert::Infallible;

    /// The gateway reads a market's facts (fee, tick, neg risk) itself,
    /// before its first order.
    fn list_market(&mut self, _market: ConditionId, _tokens: [&TokenId; 2], _fee: FeeModel) {}

    /// The wallet is the exchange's to check (and the gateway's balance
    /// pre-check reads it on chain), so the ledger's `funds` are not used.
    fn execute(&mut self, command: Command, _at: TimestampMs, _funds: Funds) -> Result<(), Self::Error> {
        match command {
            Command::Place(intent) => self.place(intent),
            Command::Cancel { order_id: Some(id), .. } => {
                let gateway = self.gateway.clone();
                tokio::spawn(async move {
                    // A failed cancel leaves the order as the exchange has
                    // it; its updates still arrive through the order log.
                    let _ = gateway.cancel(id).await;
                });
            }
            // Not yet acknowledged: nothing the exchange could cancel; the
            // engine cancels again once it knows the order's id.
            Command::Cancel { order_id: None, .. } | Command::CancelAll { .. } => {}
        }
        Ok(())
    }

    fn on_market_event(&mut self, event: &MarketEvent, _at: TimestampMs) -> Result<(), Self::Error> {
        if let MarketEvent::TickSizeChange(change) = event {
            self.gateway.set_tick_size(&change.token, change.new);
        }
        Ok(())
    }

    fn advance_to(&mut self, _at: TimestampMs) -> Result<(), Self::Error> {
        Ok(())
    }

    fn clock(&self) -> Option<TimestampMs> {
        None
    }

    fn take_events(&mut self, into: &mut Vec<VenueEvent>) {
        while let Ok(learnt) = self.learning.from.try_recv() {
            self.keep(learnt);
        }
        into.append(&mut self.learnt);
    }

    fn in_flight(&self) -> usize {
        self.in_flight
    }
}

// Its parts are handles, channels and callbacks: the type name is what a
// log line or a failed assertion needs.
impl<L> std::fmt::Debug for Forwarding<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarding").finish_non_exhaustive()
    }
}
