//! API-key endpoints: L1-authenticated creation and derivation, L2-authenticated
//! listing and deletion.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, Method};
use serde_json::{Value, json};

use super::super::SimState;
use super::super::error::ApiError;
use super::{l1_auth, l2_auth, status};
use crate::auth::ApiCredentials;

fn credentials_json(c: &ApiCredentials) -> Value {
    json!({"apiKey": c.api_key.to_string(), "secret": c.secret(), "passphrase": c.passphrase()})
}

/// `POST /auth/api-key`: issues the key of (address, nonce); the first key an
/// address creates also opens its account with the starting balance.
pub async fn create_api_key(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let who = l1_auth(&state, &headers)?;
    let mut sim = state.lock();
    let creds =
        sim.keys.create(who.address, who.nonce).map_err(|e| ApiError::new(status(e.http_status()), e.message()))?;
    if sim.funded.insert(who.address) {
        // The starting balance is checked non-negative at start-up, so
        // crediting it cannot be refused.
        let amount = state.config.starting_balance;
        if sim.exchange.fund(who.address, amount).is_ok() {
            state.publish(&mut sim);
        }
    }
    Ok(Json(credentials_json(&creds)))
}

/// `GET /auth/derive-api-key`: the key already issued for (address, nonce).
pub async fn derive_api_key(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let who = l1_auth(&state, &headers)?;
    let sim = state.lock();
    let creds =
        sim.keys.derive(who.address, who.nonce).map_err(|e| ApiError::new(status(e.http_status()), e.message()))?;
    Ok(Json(credentials_json(&creds)))
}

pub async fn api_keys(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::GET, "/auth/api-keys", &[])?;
    let keys: Vec<String> = state.lock().keys.keys_of(who.address).iter().map(ToString::to_string).collect();
    Ok(Json(json!({ "apiKeys": keys })))
}

/// `DELETE /auth/api-key`: deletes the key the request is signed with.
pub async fn delete_api_key(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let who = l2_auth(&state, &headers, &Method::DELETE, "/auth/api-key", &[])?;
    state.lock().keys.delete(&who.api_key).map_err(|e| ApiError::new(status(e.http_status()), e.message()))?;
    Ok(Json(Value::String("OK".into())))
}

pub async fn closed_only(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    l2_auth(&state, &headers, &Method::GET, "/auth/ban-status/closed-only", &[])?;
    Ok(Json(json!({"closed_only": false})))
}
