//! `place`: from an intent to an order the exchange holds (or a refusal).

use std::str::FromStr as _;
use std::sync::atomic::Ordering;

use alloy_primitives::U256;
use pmbot_core::events::OrderIntent;
use pmbot_core::order_amounts::size_order;
use pmbot_core::order_state::{OrderInput, OrderState};
use pmbot_core::{ClientOrderId, FeeModel, OrderAmounts, Side, Sizing, TickSize, TokenId, Usdc};
use reqwest::Method;

use super::balance::{BalanceQuery, BalanceRefusalKind};
use super::classify::{PostOutcome, RefusalKind, classify_post, parse_order_id};
use super::log::PreparedOrder;
use super::order::{SignedBody, build_and_sign};
use super::reconcile::Resolution;
use super::tracker::Tracked;
use super::{GatewayAlert, GatewayError, Inner, MarketMeta, Placed, Refusal, core_tick, lock};

impl Inner {
    pub(crate) async fn place(&self, intent: OrderIntent) -> Result<Placed, GatewayError> {
        let cid = intent.client_order_id.clone();
        if !lock(&self.tracker).reserve(&cid) {
            return Err(self.refuse(&intent, Refusal::DuplicateIntent(cid)));
        }
        let result = self.place_reserved(&intent).await;
        lock(&self.tracker).release(&cid);
        result
    }

    /// Journals a refusal before sending and returns it as the error.
    fn refuse(&self, intent: &OrderIntent, r: Refusal) -> GatewayError {
        self.stats.refused_before_send.fetch_add(1, Ordering::Relaxed);
        // A duplicate intent is not journaled as a refusal of that intent:
        // the intent's order exists and its row must not be confused.
        if !matches!(r, Refusal::DuplicateIntent(_)) {
            self.journal_refusal(intent, &r.to_string());
        }
        GatewayError::Refused(r)
    }

    async fn place_reserved(&self, intent: &OrderIntent) -> Result<Placed, GatewayError> {
        // 1. The kill switch, read from disk for every order. An unreadable
        // path (permissions) counts as present: fail closed.
        let ks = &self.cfg.kill_switch;
        if ks.try_exists().unwrap_or(true) {
            let err = self.refuse(intent, Refusal::KillSwitch(ks.clone()));
            let (cancelled, cancel_error) = if self.cfg.cancel_all_on_kill {
                match self.cancel_all().await {
                    Ok(r) => (Some(r.cancelled.len()), None),
                    Err(e) => (None, Some(e.to_string())),
                }
            } else {
                (None, None)
            };
            self.alert(GatewayAlert::KillSwitch {
                path: ks.clone(),
                client_order_id: intent.client_order_id.clone(),
                cancelled,
                cancel_error,
            });
            return Err(err);
        }
        // 2. A fatal answer earlier stopped trading.
        if let Some(reason) = lock(&self.halted).clone() {
            return Err(self.refuse(intent, Refusal::Halted(reason)));
        }
        // 3. The order-safety heartbeat.
        if let Some(why) = lock(&self.heartbeat).failing() {
            return Err(self.refuse(intent, Refusal::HeartbeatFailing(why)));
        }
        // 4. What can be checked without the account: tick, expiry,
        // post-only, and amounts the exchange accepts at the limit.
        let meta = self.market_meta(&intent.token).await?;
        let tick = self.tick(&intent.token).unwrap_or(TickSize::Hundredth);
        let amounts = match intent.validate(tick) {
            Ok(a) => a,
            Err(e) => return Err(self.refuse(intent, Refusal::Invalid(e.to_string()))),
        };
        // 5. The balance pre-check.
        let query = self.balance_query(intent, &meta);
        if let Err(r) = self.balance.check(&query).await {
            if r.kind != BalanceRefusalKind::Insufficient {
                self.alert(GatewayAlert::BalanceCheck {
                    client_order_id: intent.client_order_id.clone(),
                    kind: r.kind.clone(),
                    detail: r.detail.clone(),
                });
            }
            return Err(self.refuse(intent, Refusal::Balance(r)));
        }
        // 6. Build, sign, journal, send.
        self.order_limit.acquire(1).await;
        let signed = self.sign(intent, &amounts, &meta).await?;
        self.prepare(intent, &meta, &signed)?;
        self.post_until_known(intent, &meta, signed).await
    }

    fn balance_query(&self, intent: &OrderIntent, meta: &MarketMeta) -> BalanceQuery {
        let (open_buy_commitments, open_sell_shares) = lock(&self.tracker).commitments(&intent.token);
        // A BUY pays its taker fee in pUSD on top of its cost, so the wallet
        // must hold both (at the limit: fills at better prices cost less,
        // fee included); a SELL pays out of its proceeds and needs none.
        let (cost, max_fee) = match intent.side {
            Side::Buy => {
                let cost = Usdc::from_price_size_ceil(intent.limit_price, intent.size);
                (cost, meta.fee.max_buy_cost(intent.limit_price, intent.size, intent.may_take()) - cost)
            }
            Side::Sell => (Usdc::ZERO, Usdc::ZERO),
        };
        BalanceQuery {
            intent: intent.clone(),
            market: meta.condition,
            neg_risk: meta.neg_risk,
            cost,
            max_fee,
            open_buy_commitments,
            open_sell_shares,
        }
    }

    /// Builds and signs; a failure to read what the SDK needs (tick, neg-risk,
    /// version) is retried with backoff: nothing has been sent yet.
    async fn sign(
        &self,
        intent: &OrderIntent,
        amounts: &OrderAmounts,
        meta: &MarketMeta,
    ) -> Result<SignedBody, GatewayError> {
        let mut last = super::order::BuildError::Timeout;
        for attempt in 0..self.cfg.retry.attempts {
            if attempt > 0 {
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            let build = build_and_sign(&self.sdk, &self.signer, intent, amounts, self.cfg.chain_id, meta.neg_risk);
            match tokio::time::timeout(self.cfg.request_timeout, build).await {
                Ok(Ok(signed)) => return Ok(signed),
                Ok(Err(e @ super::order::BuildError::Sdk(_))) => last = e,
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => last = super::order::BuildError::Timeout,
            }
        }
        Err(last.into())
    }

    /// Journals the order (the last step before sending) and tracks it.
    fn prepare(&self, intent: &OrderIntent, meta: &MarketMeta, signed: &SignedBody) -> Result<(), GatewayError> {
        let prepared = PreparedOrder {
            client_order_id: intent.client_order_id.clone(),
            order_hash: signed.hash,
            salt: signed.salt,
            intent: intent.clone(),
            market: meta.condition,
            body: signed.body.clone(),
            created: self.now(),
        };
        let mut tracker = lock(&self.tracker);
        lock(&self.log).before_send(&prepared)?;
        let state = OrderState::new(intent.client_order_id.clone(), Some(signed.hash), intent.size, intent.order_type);
        tracker.insert(Tracked {
            state,
            intent: intent.clone(),
            market: meta.condition,
            price: signed.price,
            fee: meta.fee,
        });
        drop(tracker);
        self.apply_cid(&intent.client_order_id, OrderInput::Sent, None);
        Ok(())
    }

    fn placed(&self, cid: &ClientOrderId, posts: u32, rebuilt_on_tick: Option<TickSize>) -> Placed {
        let t = lock(&self.tracker);
        let tracked = t.get(cid).expect("a prepared order is tracked until the gateway is dropped");
        Placed {
            client_order_id: cid.clone(),
            order_id: tracked.state.order_id().unwrap_or_default(),
            status: tracked.state.status(),
            filled: tracked.state.filled(),
            posts,
            rebuilt_on_tick,
        }
    }

    /// Posts the signed order, re-posting the identical bytes only when the
    /// exchange certainly did not take them, until its fate is known or the
    /// attempts are spent.
    async fn post_until_known(
        &self,
        intent: &OrderIntent,
        meta: &MarketMeta,
        mut signed: SignedBody,
    ) -> Result<Placed, GatewayError> {
        let cid = &intent.client_order_id;
        let attempts = self.cfg.retry.attempts;
        let mut posts = 0u32;
        let mut rebuilt_on_tick = None;
        loop {
            if posts > 0 {
                self.order_limit.acquire(1).await;
                self.stats.reposts.fetch_add(1, Ordering::Relaxed);
            }
            posts += 1;
            self.stats.posts.fetch_add(1, Ordering::Relaxed);
            let result = self.transport.send(Method::POST, "/order", "", Some(&signed.body)).await;
            if let Ok(reply) = &result {
                let now_s = self.now().millis() / 1000;
                if self.order_limit.observe(reply, now_s, self.backoff(posts), self.cfg.retry.max_retry_after).is_some()
                {
                    self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
            }
            let more = posts < attempts;
            match classify_post(&result) {
                PostOutcome::Accepted { order_id, status } => {
                    if parse_order_id(&order_id) != Some(signed.hash) {
                        self.alert(GatewayAlert::OrderIdMismatch {
                            client_order_id: cid.clone(),
                            computed: signed.hash,
                            reported: order_id.clone(),
                        });
                    }
                    self.apply_cid(cid, OrderInput::Accepted { order_id: signed.hash, status }, None);
                    self.kick_heartbeat();
                    return Ok(self.placed(cid, posts, rebuilt_on_tick));
                }
                PostOutcome::AlreadyThere => {
                    // The exchange holds this very order: an earlier post landed.
                    self.settle_from_exchange(cid, meta, &signed).await;
                    return Ok(self.placed(cid, posts, rebuilt_on_tick));
                }
                PostOutcome::Refused { kind: RefusalKind::TickSize, message } if rebuilt_on_tick.is_none() => {
                    match self.rebuild_on_new_tick(intent, meta, &signed, &message).await? {
                        Some((tick, next)) => {
                            signed = next;
                            rebuilt_on_tick = Some(tick);
                            posts = 0;
                            continue;
                        }
                        None => return Err(self.exchange_refused(cid, RefusalKind::TickSize, message)),
                    }
                }
                PostOutcome::Refused { kind, message } => {
                    if kind == RefusalKind::Balance {
                        self.balance.refresh().await;
                    }
                    return Err(self.exchange_refused(cid, kind, message));
                }
                PostOutcome::RateLimited { .. } | PostOutcome::NotSent { .. } if more => {
                    // Not taken: the limiter holds the class for Retry-After;
                    // a refused connection backs off.
                    if matches!(classify_post(&result), PostOutcome::NotSent { .. }) {
                        tokio::time::sleep(self.backoff(posts)).await;
                    }
                }
                PostOutcome::RateLimited { .. } | PostOutcome::NotSent { .. } => {
                    let detail = format!("{:?}", classify_post(&result));
                    self.apply_cid(cid, OrderInput::Rejected { reason: format!("not taken: {detail}") }, None);
                    return Err(GatewayError::NotTaken { client_order_id: cid.clone(), posts, detail });
                }
                PostOutcome::Ambiguous { detail } => {
                    self.stats.ambiguous.fetch_add(1, Ordering::Relaxed);
                    self.apply_cid(cid, OrderInput::Ambiguous { reason: detail.clone() }, None);
                    match self.resolve(signed.hash, meta.condition).await {
                        Resolution::Found(order) => {
                            self.apply_venue_order(&order);
                            self.kick_heartbeat();
                            return Ok(self.placed(cid, posts, rebuilt_on_tick));
                        }
                        Resolution::FoundTrades(trades) => {
                            for t in &trades {
                                self.apply_trade(t);
                            }
                            self.kick_heartbeat();
                            return Ok(self.placed(cid, posts, rebuilt_on_tick));
                        }
                        // Not there (or could not tell): the identical bytes
                        // are safe to send again.
                        Resolution::Absent | Resolution::Unreachable(_) if more => {
                            tokio::time::sleep(self.backoff(posts)).await;
                        }
                        last @ (Resolution::Absent | Resolution::Unreachable(_)) => {
                            let seen = match last {
                                Resolution::Unreachable(e) => format!("look-ups failed: {e}"),
                                _ => "not found after every post".to_owned(),
                            };
                            self.journal_note(
                                "order_pending_reconcile",
                                &serde_json::json!({"client_order_id": cid.as_str(), "order_id": signed.hash.to_string(), "posts": posts, "detail": seen}),
                            );
                            self.alert(GatewayAlert::OrderUnknown {
                                client_order_id: cid.clone(),
                                order_id: signed.hash,
                            });
                            self.kick_heartbeat();
                            return Ok(self.placed(cid, posts, rebuilt_on_tick));
                        }
                    }
                }
                PostOutcome::Fatal { status, detail } => {
                    let reason = format!("HTTP {status} on order post: {detail}");
                    self.halt(reason.clone());
                    // A 401 or an edge block never reached the order book.
                    self.apply_cid(cid, OrderInput::Rejected { reason: reason.clone() }, None);
                    return Err(GatewayError::Fatal(reason));
                }
            }
        }
    }

    fn exchange_refused(&self, cid: &ClientOrderId, kind: RefusalKind, message: String) -> GatewayError {
        self.apply_cid(cid, OrderInput::Rejected { reason: message.clone() }, None);
        GatewayError::ExchangeRefused { client_order_id: cid.clone(), kind, message }
    }

    /// The exchange said it already holds this order: read it back.
    async fn settle_from_exchange(&self, cid: &ClientOrderId, meta: &MarketMeta, signed: &SignedBody) {
        match self.resolve(signed.hash, meta.condition).await {
            Resolution::Found(order) => {
                self.apply_venue_order(&order);
            }
            Resolution::FoundTrades(trades) => {
                for t in &trades {
                    self.apply_trade(t);
                }
            }
            Resolution::Absent | Resolution::Unreachable(_) => {
                // It said "duplicate", so it has it; its details come later.
                self.apply_cid(cid, OrderInput::Ambiguous { reason: "duplicate, not yet readable".into() }, None);
            }
        }
        self.kick_heartbeat();
    }

    /// After a tick-size refusal: refetch the tick; if it changed, rebuild the
    /// order on it (price rounded the passive way, never beyond the intent's
    /// limit; size cut to the exact amounts at that price if it must be),
    /// journal the new preparation and return it.
    async fn rebuild_on_new_tick(
        &self,
        intent: &OrderIntent,
        meta: &MarketMeta,
        old: &SignedBody,
        message: &str,
    ) -> Result<Option<(TickSize, SignedBody)>, GatewayError> {
        let before = self.tick(&intent.token);
        self.refresh_market_info(&intent.token, meta).await?;
        let Some(tick) = self.tick(&intent.token) else { return Ok(None) };
        if Some(tick) == before && old.price.is_on_tick(tick) {
            return Ok(None);
        }
        let price = match intent.side {
            Side::Buy => old.price.floor_to(tick),
            Side::Sell => old.price.ceil_to(tick),
        };
        let Some(price) = price.filter(|p| *p >= tick.min_price() && *p <= tick.max_price()) else {
            return Ok(None);
        };
        let amounts = match size_order(intent.kind(), intent.side, price, tick, intent.size) {
            Sizing::Exact(a) | Sizing::Reduced { amounts: a, .. } => a,
            Sizing::TooSmall { .. } => return Ok(None),
        };
        let cid = &intent.client_order_id;
        self.apply_cid(cid, OrderInput::Rejected { reason: format!("{message}; rebuilding on tick {tick}") }, None);
        // The order as signed: what the journal and the order's state count.
        let ordered = OrderIntent { size: amounts.shares, ..intent.clone() };
        let signed = self.sign(&ordered, &amounts, meta).await?;
        self.prepare(&ordered, meta, &signed)?;
        self.journal_note(
            "order_rebuilt_on_tick",
            &serde_json::json!({
                "client_order_id": cid.as_str(),
                "old_hash": old.hash.to_string(),
                "new_hash": signed.hash.to_string(),
                "tick": tick.as_str(),
                "price": price.to_string(),
                "size": amounts.shares.to_string(),
                "asked_size": intent.size.to_string(),
            }),
        );
        Ok(Some((tick, signed)))
    }

    /// The market of `token` (condition id, neg-risk, fees), fetched once;
    /// its tick is set from the same answer unless the stream set one.
    pub(crate) async fn market_meta(&self, token: &TokenId) -> Result<MarketMeta, GatewayError> {
        if let Some(m) = lock(&self.markets).get(token).cloned() {
            return Ok(m);
        }
        let err = |detail: String| GatewayError::Market { token: token.clone(), detail };
        let u = U256::from_str(token.as_str()).map_err(|e| err(e.to_string()))?;
        let by_token = self.sdk_call(|| self.sdk.market_by_token(u)).await.map_err(err)?;
        let condition = pmbot_core::Hash32(by_token.condition_id.0);
        let meta = MarketMeta { condition, neg_risk: false, fee: FeeModel::FREE };
        let meta = self.refresh_market_info(token, &meta).await?;
        Ok(meta)
    }

    /// Reads `/clob-markets/{condition}` (which also refreshes the SDK's tick
    /// cache) and records the tick, neg-risk flag and fees.
    pub(crate) async fn refresh_market_info(
        &self,
        token: &TokenId,
        meta: &MarketMeta,
    ) -> Result<MarketMeta, GatewayError> {
        let err = |detail: String| GatewayError::Market { token: token.clone(), detail };
        let cid = meta.condition.to_string();
        let info = self.sdk_call(|| self.sdk.clob_market_info(&cid)).await.map_err(err)?;
        let fee = info
            .fee_details
            .as_ref()
            .map(|fd| FeeModel { rate: fd.rate, exponent: fd.exponent, taker_only: fd.taker_only })
            .unwrap_or(FeeModel::FREE);
        let meta = MarketMeta { condition: meta.condition, neg_risk: info.neg_risk, fee };
        let tick =
            core_tick(info.min_tick_size).ok_or_else(|| err(format!("unknown tick {:?}", info.min_tick_size)))?;
        let mut markets = lock(&self.markets);
        for t in info.tokens.iter().flatten() {
            if let Ok(id) = TokenId::parse(&t.token_id.to_string()) {
                markets.insert(id.clone(), meta.clone());
                lock(&self.ticks).insert(id, tick);
            }
        }
        markets.insert(token.clone(), meta.clone());
        drop(markets);
        lock(&self.ticks).insert(token.clone(), tick);
        Ok(meta)
    }

    /// An SDK read, bounded by the request timeout and retried with backoff.
    async fn sdk_call<T, F, Fut>(&self, f: F) -> Result<T, String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = polymarket_client_sdk_v2::Result<T>>,
    {
        let mut last = String::new();
        for attempt in 0..self.cfg.retry.attempts {
            if attempt > 0 {
                tokio::time::sleep(self.backoff(attempt)).await;
            }
            match tokio::time::timeout(self.cfg.request_timeout, f()).await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(e)) => {
                    last = e.to_string();
                    if let Some(s) = e.downcast_ref::<polymarket_client_sdk_v2::error::Status>()
                        && s.status_code.is_client_error()
                        && s.status_code.as_u16() != 429
                    {
                        break;
                    }
                }
                Err(_) => last = "timed out".into(),
            }
        }
        Err(last)
    }

    pub(crate) fn kick_heartbeat(&self) {
        self.heartbeat_kick.notify_one();
    }
}
