//! HTTP error replies in the exchange's shapes.
//!
//! The CLOB answers almost every error with `{"error": "<message>"}` and a
//! 4xx/5xx status; a few carry other keys (a refused heartbeat:
//! `{"error_msg": .., "heartbeat_id": ..}`); a Cloudflare region block is an
//! HTML page instead. Messages never
//! carry secrets: they are fixed strings or echo public identifiers only.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
    pub retry_after_s: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorBody {
    /// `{"error": message}`
    Json(String),
    /// Any other JSON object, sent as it is.
    Object(serde_json::Value),
    /// An HTML page (region block).
    Html(String),
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, body: ErrorBody::Json(message.into()), retry_after_s: None }
    }

    /// An error whose body is `body` verbatim.
    pub fn object(status: StatusCode, body: serde_json::Value) -> ApiError {
        ApiError { status, body: ErrorBody::Object(body), retry_after_s: None }
    }

    /// The error text a batch reply's `errorMsg` carries.
    pub fn message(&self) -> String {
        match &self.body {
            ErrorBody::Json(m) | ErrorBody::Html(m) => m.clone(),
            ErrorBody::Object(v) => v.to_string(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 401 for a bad L2 (API key) request.
    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized/Invalid api key")
    }

    /// 401 for a bad L1 (wallet signature) request.
    pub fn invalid_l1() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "Invalid L1 Request headers")
    }

    pub fn invalid_payload() -> ApiError {
        ApiError::bad_request("Invalid payload")
    }

    pub fn invalid_token() -> ApiError {
        ApiError::bad_request("Invalid token id")
    }

    pub fn no_orderbook() -> ApiError {
        ApiError::not_found("No orderbook exists for the requested token id")
    }

    pub fn too_many_requests(retry_after_s: u64) -> ApiError {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: ErrorBody::Json("Too Many Requests".into()),
            retry_after_s: Some(retry_after_s.max(1)),
        }
    }

    pub fn html(status: StatusCode, page: String) -> ApiError {
        ApiError { status, body: ErrorBody::Html(page), retry_after_s: None }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(s) = self.retry_after_s {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        match self.body {
            ErrorBody::Json(msg) => (self.status, headers, axum::Json(json!({ "error": msg }))).into_response(),
            ErrorBody::Object(v) => (self.status, headers, axum::Json(v)).into_response(),
            ErrorBody::Html(page) => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=UTF-8"));
                (self.status, headers, page).into_response()
            }
        }
    }
}
