//! The journal as the order gateway's log for a trading run: what the
//! journal records for any order, and each order also joins the run that
//! sent it (its `run_orders` row, as the paper venue writes for paper
//! orders), once the run has started.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use pmbot_core::{Fill, OrderIntent, OrderUpdate, TimestampMs};

use super::{SharedJournal, lock};
use crate::journal::{EngineRow, LoggedOrder, OrderLog, OrderLogError, PreparedOrder};

/// The journal's order log for the run told through its [`RunSlot`].
#[derive(Debug)]
pub struct RunOrderLog {
    journal: SharedJournal,
    run: Arc<AtomicI64>,
}

/// Tells a [`RunOrderLog`] its run once the engine has started it (the
/// gateway, and its log, start first: a gateway that cannot start leaves
/// no run behind).
#[derive(Debug, Clone)]
pub struct RunSlot(Arc<AtomicI64>);

impl RunSlot {
    pub fn set(&self, run: i64) {
        self.0.store(run, Ordering::SeqCst);
    }
}

impl RunOrderLog {
    pub fn new(journal: SharedJournal) -> (RunOrderLog, RunSlot) {
        let run = Arc::new(AtomicI64::new(0));
        (RunOrderLog { journal, run: run.clone() }, RunSlot(run))
    }
}

impl OrderLog for RunOrderLog {
    fn before_send(&mut self, order: &PreparedOrder) -> Result<(), OrderLogError> {
        let mut j = lock(&self.journal);
        let fresh = j.order(&order.client_order_id)?.is_none();
        OrderLog::before_send(&mut *j, order)?;
        let run = self.run.load(Ordering::SeqCst);
        if fresh && run > 0 {
            let row = EngineRow::RunOrder { run, client_order_id: order.client_order_id.clone(), market: order.market };
            j.record_rows(&[row])?;
        }
        Ok(())
    }

    fn update(&mut self, update: &OrderUpdate) -> Result<(), OrderLogError> {
        OrderLog::update(&mut *lock(&self.journal), update)
    }

    fn fill(&mut self, fill: &Fill) -> Result<bool, OrderLogError> {
        OrderLog::fill(&mut *lock(&self.journal), fill)
    }

    fn refusal(&mut self, intent: &OrderIntent, reason: &str, at: TimestampMs) -> Result<(), OrderLogError> {
        OrderLog::refusal(&mut *lock(&self.journal), intent, reason, at)
    }

    fn note(&mut self, kind: &str, detail: &serde_json::Value, at: TimestampMs) -> Result<(), OrderLogError> {
        OrderLog::note(&mut *lock(&self.journal), kind, detail, at)
    }

    fn open_orders(&self) -> Result<Vec<LoggedOrder>, OrderLogError> {
        OrderLog::open_orders(&*lock(&self.journal))
    }
}
