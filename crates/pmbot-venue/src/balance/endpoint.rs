//! One JSON-RPC endpoint and one round trip to it.
//!
//! Invariant: a read either returns one well-formed value per query, all from
//! a node that said it is on the configured chain in the same batch, or a
//! typed [`EndpointError`]. Every answer is checked (exact 32-byte words,
//! booleans 0 or 1), so a misbehaving endpoint cannot pass garbage on.
//! Errors never contain the endpoint's full URL (it may hold an API key).

use std::fmt;
use std::time::Duration;

use alloy::primitives::{Address, Bytes, U64, U256};
use alloy::rpc::client::RpcClient;
use alloy::sol_types::SolCall;
use alloy::transports::{RpcError, TransportErrorKind};
use serde::Serialize;

use super::config::{parse_rpc_url, redact_url};

alloy::sol! {
    /// The ERC-20 reads pmbot makes on the collateral token.
    interface IERC20 {
        function balanceOf(address account) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
    }

    /// The ERC-1155 reads pmbot makes on the conditional tokens.
    interface IERC1155 {
        function balanceOf(address account, uint256 id) external view returns (uint256);
        function isApprovedForAll(address account, address operator) external view returns (bool);
    }
}

/// One value to read for the funder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Query {
    /// Collateral `balanceOf(funder)`.
    CollateralBalance,
    /// Collateral `allowance(funder, spender)`.
    Allowance(Address),
    /// Conditional-token `balanceOf(funder, id)`.
    Shares(U256),
    /// Conditional-token `isApprovedForAll(funder, operator)`.
    Approval(Address),
}

/// A value read for a [`Query`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    Amount(U256),
    Approved(bool),
}

/// The contracts the queries go to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Contracts {
    pub collateral: Address,
    pub conditional_tokens: Address,
}

/// Why one endpoint gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EndpointError {
    #[error("unreachable: {detail}")]
    Unreachable { detail: String },
    #[error("no answer within {after_ms} ms")]
    Timeout { after_ms: u64 },
    #[error("HTTP status {status}")]
    Http { status: u16 },
    #[error("wrong chain: eth_chainId says {got}, expected {expected}")]
    WrongChain { expected: u64, got: u64 },
    #[error("node returned error {code}: {message}")]
    Rpc { code: i64, message: String },
    #[error("garbage answer: {detail}")]
    Garbage { detail: String },
}

/// One failed try of one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedAttempt {
    /// `scheme://host[:port]` only.
    pub endpoint: String,
    /// 0-based round over all endpoints.
    pub round: u32,
    pub error: EndpointError,
}

/// No endpoint gave a usable answer: every attempt, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadFailure {
    pub attempts: Vec<FailedAttempt>,
}

impl ReadFailure {
    /// Whether some endpoint answered for another chain (a configuration error).
    pub fn wrong_chain(&self) -> bool {
        self.attempts.iter().any(|a| matches!(a.error, EndpointError::WrongChain { .. }))
    }

    /// The last error seen.
    pub fn last(&self) -> Option<&FailedAttempt> {
        self.attempts.last()
    }
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no RPC endpoint gave a usable answer ({} attempts", self.attempts.len())?;
        match self.last() {
            Some(a) => write!(f, "; last: {}: {})", a.endpoint, a.error),
            None => write!(f, ")"),
        }
    }
}

impl std::error::Error for ReadFailure {}

/// Longest excerpt of a foreign answer kept in an error.
const EXCERPT: usize = 160;

/// A JSON-RPC endpoint: its client and the label it may be named by.
pub(crate) struct Endpoint {
    client: RpcClient,
    label: String,
    /// The URL as configured and as normalised by the URL parser, only to
    /// scrub them from foreign error texts.
    secret_urls: [String; 2],
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint").field("label", &self.label).finish_non_exhaustive()
    }
}

/// `eth_call` parameters: the classic `data` field, which every node accepts.
#[derive(Debug, Clone, Serialize)]
struct CallParams {
    to: Address,
    data: Bytes,
}

impl Endpoint {
    /// An endpoint over a shared HTTP client (one connection pool for all).
    pub(crate) fn new(url: &str, http: reqwest::Client) -> Result<Endpoint, String> {
        let parsed = parse_rpc_url(url)?;
        Ok(Endpoint {
            label: redact_url(url),
            secret_urls: [parsed.as_str().to_owned(), url.trim().to_owned()],
            client: RpcClient::new_http_with_client(http, parsed),
        })
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The JSON-RPC client (the redeemer builds its provider on it, so its
    /// errors are classified and scrubbed here too).
    pub(crate) fn client(&self) -> &RpcClient {
        &self.client
    }

    /// Reads every query, with `eth_chainId`, in one JSON-RPC batch (one HTTP
    /// round trip), bounded by `timeout`.
    pub(crate) async fn read(
        &self,
        chain_id: u64,
        contracts: Contracts,
        funder: Address,
        queries: &[Query],
        timeout: Duration,
    ) -> Result<Vec<Reading>, EndpointError> {
        match tokio::time::timeout(timeout, self.read_batch(chain_id, contracts, funder, queries)).await {
            Ok(result) => result,
            Err(_) => Err(EndpointError::Timeout { after_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX) }),
        }
    }

    async fn read_batch(
        &self,
        chain_id: u64,
        contracts: Contracts,
        funder: Address,
        queries: &[Query],
    ) -> Result<Vec<Reading>, EndpointError> {
        let mut batch = self.client.new_batch();
        let chain = batch.add_call::<_, U64>("eth_chainId", &()).map_err(|e| self.classify(e))?;
        let mut calls = Vec::with_capacity(queries.len());
        for query in queries {
            let (to, data) = encode(*query, contracts, funder);
            let params = (CallParams { to, data: data.into() }, "latest");
            calls.push(batch.add_call::<_, Bytes>("eth_call", &params).map_err(|e| self.classify(e))?);
        }
        batch.send().await.map_err(|e| self.classify(e))?;

        // The chain id first: answers from another chain are not looked at.
        let got = chain.await.map_err(|e| self.classify(e))?;
        let got = u64::try_from(got).map_err(|_| garbage(format!("chain id {got} does not fit u64")))?;
        if got != chain_id {
            return Err(EndpointError::WrongChain { expected: chain_id, got });
        }
        let mut readings = Vec::with_capacity(queries.len());
        for (query, call) in queries.iter().zip(calls) {
            let bytes = call.await.map_err(|e| self.classify(e))?;
            readings.push(decode(*query, &bytes)?);
        }
        Ok(readings)
    }

    /// Sorts an alloy transport error into what the caller acts on.
    pub(crate) fn classify(&self, err: RpcError<TransportErrorKind>) -> EndpointError {
        match err {
            RpcError::ErrorResp(payload) => {
                EndpointError::Rpc { code: payload.code, message: self.excerpt(&payload.message) }
            }
            RpcError::NullResp => garbage("null result".to_owned()),
            RpcError::DeserError { err, text } => garbage(format!("{err}; answer began {:?}", self.excerpt(&text))),
            RpcError::Transport(TransportErrorKind::HttpError(http)) => EndpointError::Http { status: http.status },
            RpcError::Transport(TransportErrorKind::MissingBatchResponse(id)) => {
                garbage(format!("batch answer lacks request {id}"))
            }
            RpcError::Transport(TransportErrorKind::Custom(inner)) => {
                // reqwest names the URL in its errors; drop it, keep the cause chain.
                let text = match inner.downcast_ref::<reqwest::Error>() {
                    Some(e) => describe_reqwest(e),
                    None => error_chain(inner.as_ref()),
                };
                EndpointError::Unreachable { detail: self.excerpt(&text) }
            }
            other => EndpointError::Unreachable { detail: self.excerpt(&other.to_string()) },
        }
    }

    /// A bounded excerpt of foreign text with this endpoint's URL scrubbed out.
    pub(crate) fn excerpt(&self, text: &str) -> String {
        let mut scrubbed = text.to_owned();
        for secret in &self.secret_urls {
            scrubbed = scrubbed.replace(secret.as_str(), &self.label);
        }
        let mut out: String = scrubbed.chars().take(EXCERPT).collect();
        if scrubbed.chars().count() > EXCERPT {
            out.push('…');
        }
        out
    }
}

/// A reqwest error by its kind and causes. Its own `Display` names the URL
/// (which may hold an API key), so it is left out.
fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "bad response body"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(cause) => format!("{kind}: {}", error_chain(cause)),
        None => kind.to_owned(),
    }
}

/// "top: cause: cause" of an error and its sources.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

fn garbage(detail: String) -> EndpointError {
    EndpointError::Garbage { detail }
}

/// Target contract and calldata of a query.
fn encode(query: Query, c: Contracts, funder: Address) -> (Address, Vec<u8>) {
    match query {
        Query::CollateralBalance => (c.collateral, IERC20::balanceOfCall { account: funder }.abi_encode()),
        Query::Allowance(spender) => (c.collateral, IERC20::allowanceCall { owner: funder, spender }.abi_encode()),
        Query::Shares(id) => (c.conditional_tokens, IERC1155::balanceOfCall { account: funder, id }.abi_encode()),
        Query::Approval(operator) => {
            (c.conditional_tokens, IERC1155::isApprovedForAllCall { account: funder, operator }.abi_encode())
        }
    }
}

/// Checks and decodes one `eth_call` answer. Each of these functions returns
/// exactly one 32-byte word; anything else (notably `0x`, what a call to an
/// address without code returns) is garbage.
fn decode(query: Query, bytes: &[u8]) -> Result<Reading, EndpointError> {
    if bytes.len() != 32 {
        let what = if bytes.is_empty() { " (no contract at that address?)" } else { "" };
        return Err(garbage(format!("eth_call answered {} bytes, expected 32{what}", bytes.len())));
    }
    let bad = |e: alloy::sol_types::Error| garbage(format!("eth_call answer does not decode: {e}"));
    Ok(match query {
        Query::CollateralBalance => {
            Reading::Amount(IERC20::balanceOfCall::abi_decode_returns_validate(bytes).map_err(bad)?)
        }
        Query::Allowance(_) => Reading::Amount(IERC20::allowanceCall::abi_decode_returns_validate(bytes).map_err(bad)?),
        Query::Shares(_) => Reading::Amount(IERC1155::balanceOfCall::abi_decode_returns_validate(bytes).map_err(bad)?),
        Query::Approval(_) => {
            Reading::Approved(IERC1155::isApprovedForAllCall::abi_decode_returns_validate(bytes).map_err(bad)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUNDER: Address = Address::repeat_byte(0xab);

    fn contracts() -> Contracts {
        Contracts { collateral: Address::repeat_byte(1), conditional_tokens: Address::repeat_byte(2) }
    }

    #[test]
    fn calldata_uses_the_documented_selectors() {
        let sel = |q| {
            let (to, data) = encode(q, contracts(), FUNDER);
            (to, hex::encode(&data[..4]), data.len())
        };
        assert_eq!(sel(Query::CollateralBalance), (Address::repeat_byte(1), "70a08231".into(), 4 + 32));
        assert_eq!(sel(Query::Allowance(Address::ZERO)), (Address::repeat_byte(1), "dd62ed3e".into(), 4 + 64));
        assert_eq!(sel(Query::Shares(U256::from(7))), (Address::repeat_byte(2), "00fdd58e".into(), 4 + 64));
        assert_eq!(sel(Query::Approval(Address::ZERO)), (Address::repeat_byte(2), "e985e9c5".into(), 4 + 64));
        // The funder is the first argument, left-padded.
        let (_, data) = encode(Query::CollateralBalance, contracts(), FUNDER);
        assert_eq!(&data[4 + 12..], FUNDER.as_slice());
    }

    #[test]
    fn answers_are_checked_strictly() {
        let word = |v: u64| U256::from(v).to_be_bytes::<32>().to_vec();
        assert_eq!(decode(Query::CollateralBalance, &word(5)), Ok(Reading::Amount(U256::from(5))));
        assert_eq!(decode(Query::Approval(Address::ZERO), &word(1)), Ok(Reading::Approved(true)));
        assert_eq!(decode(Query::Approval(Address::ZERO), &word(0)), Ok(Reading::Approved(false)));
        // A "bool" of 2 is not a bool.
        assert!(matches!(decode(Query::Approval(Address::ZERO), &word(2)), Err(EndpointError::Garbage { .. })));
        // Empty (no code at the address), short, and long answers.
        let err = decode(Query::CollateralBalance, &[]).unwrap_err();
        assert!(err.to_string().contains("no contract"), "{err}");
        assert!(decode(Query::CollateralBalance, &[0; 31]).is_err());
        assert!(decode(Query::CollateralBalance, &[0; 64]).is_err());
    }

    #[test]
    fn failures_print_the_last_cause() {
        let f = ReadFailure {
            attempts: vec![
                FailedAttempt {
                    endpoint: "http://a".into(),
                    round: 0,
                    error: EndpointError::WrongChain { expected: 137, got: 1 },
                },
                FailedAttempt {
                    endpoint: "http://b".into(),
                    round: 0,
                    error: EndpointError::Timeout { after_ms: 500 },
                },
            ],
        };
        assert!(f.wrong_chain());
        assert_eq!(
            f.to_string(),
            "no RPC endpoint gave a usable answer (2 attempts; last: http://b: no answer within 500 ms)"
        );
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["attempts"][0]["error"]["kind"], "wrong_chain");
        assert_eq!(json["attempts"][0]["error"]["got"], 1);
    }

    #[test]
    fn excerpts_scrub_the_url_and_stay_short() {
        let ep = Endpoint::new("https://rpc.example/v2/SECRETKEY", reqwest::Client::new()).unwrap();
        assert_eq!(ep.label(), "https://rpc.example");
        let text = ep.excerpt("failed for https://rpc.example/v2/SECRETKEY: refused");
        assert_eq!(text, "failed for https://rpc.example: refused");
        let long = ep.excerpt(&"x".repeat(1000));
        assert_eq!(long.chars().count(), EXCERPT + 1);
    }
}
