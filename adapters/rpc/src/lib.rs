//! A small blocking JSON-RPC client for monerod (`/json_rpc`), with timeouts and errors that say
//! whether trying again may help: [`Daemon`] (block templates, block submission, headers and blobs,
//! the daemon's state), [`RpcError`] and [`retry_transient`]. It is everything dualrun says to a
//! daemon: the `monerod:` adapter and the leader block producer (`dualrun-monerod`) and `follow`'s
//! daemon source (`dualrun-follow`) all speak through it.

pub mod zmq;

use std::time::Duration;

use dualrun_format::Hash32;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use ureq::Agent;

/// A daemon at a base URL such as `http://127.0.0.1:18081`. Clones share one connection pool.
#[derive(Clone)]
pub struct Daemon {
    base: String,
    agent: Agent,
    /// A timeout for every call in place of the agent's (see [`Daemon::with_timeout`]).
    timeout: Option<Duration>,
}

/// A failed JSON-RPC call.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The daemon could not be reached.
    #[error("{url}: cannot reach the daemon: {detail}")]
    Unreachable {
        /// The daemon's base URL.
        url: String,
        /// Why it could not be reached.
        detail: String,
    },
    /// The daemon did not answer in time.
    #[error("{url}: {method}: no answer in time")]
    Timeout {
        /// The daemon's base URL.
        url: String,
        /// The RPC method called.
        method: String,
    },
    /// The daemon answered with an HTTP status other than 200.
    #[error("{url}: {method}: HTTP status {status}")]
    Status {
        /// The daemon's base URL.
        url: String,
        /// The RPC method called.
        method: String,
        /// The HTTP status.
        status: u16,
    },
    /// The daemon answered with an error, or with a status other than OK.
    #[error("{url}: {method}: the daemon answered error {code}: {message}")]
    Daemon {
        /// The daemon's base URL.
        url: String,
        /// The RPC method called.
        method: String,
        /// The error code (0 for a status other than OK).
        code: i64,
        /// The error message, or the status.
        message: String,
    },
    /// The answer is not what the method returns.
    #[error("{url}: {method}: unexpected answer: {detail}")]
    Protocol {
        /// The daemon's base URL.
        url: String,
        /// The RPC method called.
        method: String,
        /// What is wrong with the answer.
        detail: String,
    },
}

impl RpcError {
    /// Worth retrying: the daemon was unreachable or timed out, answered 5xx, or said it is busy.
    pub fn is_transient(&self) -> bool {
        match self {
            RpcError::Unreachable { .. } | RpcError::Timeout { .. } => true,
            RpcError::Status { status, .. } => *status >= 500,
            RpcError::Daemon { code, message, .. } => *code == -9 || message.contains("busy"),
            RpcError::Protocol { .. } => false,
        }
    }
}

/// Calls `op` until it succeeds or fails for good: transient errors (see [`RpcError::is_transient`])
/// are retried with a pause doubling from `first` up to `max`, as long as the next try starts within
/// `budget` of the first.
pub fn retry_transient<T>(
    budget: Duration,
    first: Duration,
    max: Duration,
    mut op: impl FnMut() -> Result<T, RpcError>,
) -> Result<T, RpcError> {
    let start = std::time::Instant::now();
    let mut pause = first;
    loop {
        match op() {
            Err(e) if e.is_transient() && start.elapsed() + pause < budget => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(max);
            }
            r => return r,
        }
    }
}

/// `get_block_template`'s answer.
#[derive(Debug, Clone)]
pub struct Template {
    /// The block template blob.
    pub blob: Vec<u8>,
    /// Offset of the first reserved byte in `blob` (0 when none were reserved).
    pub reserved_offset: usize,
    /// The height of the block to be mined.
    pub height: u64,
    /// The id of the block it builds on.
    pub prev_hash: Hash32,
}

/// A block header as the daemon reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct DaemonHeader {
    /// The block's height.
    pub height: u64,
    /// The block's id.
    pub hash: Hash32,
    /// The previous block's id.
    pub prev_hash: Hash32,
    /// The block's timestamp.
    pub timestamp: u64,
    /// The block's major version.
    pub major_version: u8,
    /// The block's minor version.
    pub minor_version: u8,
    /// The block's nonce.
    pub nonce: u32,
    /// The miner transaction's hash, when the daemon reports it.
    #[serde(default)]
    pub miner_tx_hash: Option<Hash32>,
}

#[derive(Deserialize)]
struct RawTemplate {
    blocktemplate_blob: String,
    reserved_offset: usize,
    height: u64,
    prev_hash: Hash32,
}

#[derive(Deserialize)]
struct HeaderAnswer {
    block_header: DaemonHeader,
}

/// `get_info`'s answer (the fields dualrun uses).
#[derive(Debug, Clone, Deserialize)]
pub struct Info {
    /// The number of blocks (the tip is at `height − 1`).
    pub height: u64,
    /// The id of the tip.
    pub top_block_hash: Hash32,
    /// The daemon's network type; empty when not reported.
    #[serde(default)]
    pub nettype: String,
    /// The daemon's version; empty when not reported.
    #[serde(default)]
    pub version: String,
}

impl Daemon {
    /// A daemon at `base` whose calls each time out after `timeout`.
    pub fn new(base: &str, timeout: Duration) -> Daemon {
        let agent: Agent =
            Agent::config_builder().timeout_global(Some(timeout)).http_status_as_error(false).build().into();
        Daemon { base: base.trim_end_matches('/').to_owned(), agent, timeout: None }
    }

    /// The same daemon (and connection pool) with calls that time out after `timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> Daemon {
        Daemon { timeout: Some(timeout), ..self.clone() }
    }

    /// The daemon's RPC base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// POSTs `body` to `path` and reads the answer as JSON; `method` names the call in errors.
    fn post(&self, path: &str, method: &str, body: &Value) -> Result<Value, RpcError> {
        let url = format!("{}{path}", self.base);
        let err_url = || self.base.clone();
        let request = match self.timeout {
            Some(t) => self.agent.post(&url).config().timeout_global(Some(t)).build(),
            None => self.agent.post(&url),
        };
        let mut resp = request.send_json(body).map_err(|e| match e {
            ureq::Error::StatusCode(status) => RpcError::Status { url: err_url(), method: method.into(), status },
            ureq::Error::Timeout(_) => RpcError::Timeout { url: err_url(), method: method.into() },
            other => RpcError::Unreachable { url: err_url(), detail: other.to_string() },
        })?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(RpcError::Status { url: err_url(), method: method.into(), status });
        }
        resp.body_mut().read_json().map_err(|e| RpcError::Protocol {
            url: err_url(),
            method: method.into(),
            detail: format!("not JSON: {e}"),
        })
    }

    fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T, RpcError> {
        let err_url = || self.base.clone();
        let body = json!({ "jsonrpc": "2.0", "id": "0", "method": method, "params": params });
        let answer = self.post("/json_rpc", method, &body)?;
        if let Some(error) = answer.get("error") {
            return Err(RpcError::Daemon {
                url: err_url(),
                method: method.into(),
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error.get("message").and_then(Value::as_str).unwrap_or("").to_owned(),
            });
        }
        let result = answer.get("result").cloned().ok_or_else(|| RpcError::Protocol {
            url: err_url(),
            method: method.into(),
            detail: "no `result` and no `error`".into(),
        })?;
        if let Some(status) = result.get("status").and_then(Value::as_str) {
            if status != "OK" {
                return Err(RpcError::Daemon {
                    url: err_url(),
                    method: method.into(),
                    code: 0,
                    message: status.into(),
                });
            }
        }
        serde_json::from_value(result).map_err(|e| RpcError::Protocol {
            url: err_url(),
            method: method.into(),
            detail: e.to_string(),
        })
    }

    /// The daemon's height (the number of blocks) and the id of its top block, from `/get_height`: the
    /// cheapest question that says whether the chain moved (a few dozen bytes, where `get_info`'s answer
    /// is over a kilobyte).
    pub fn tip(&self) -> Result<(u64, Hash32), RpcError> {
        #[derive(Deserialize)]
        struct Answer {
            height: u64,
            hash: Hash32,
            status: String,
        }
        let method = "get_height";
        let answer = self.post("/get_height", method, &json!({}))?;
        let a: Answer = serde_json::from_value(answer).map_err(|e| RpcError::Protocol {
            url: self.base.clone(),
            method: method.into(),
            detail: e.to_string(),
        })?;
        if a.status != "OK" {
            return Err(RpcError::Daemon { url: self.base.clone(), method: method.into(), code: 0, message: a.status });
        }
        Ok((a.height, a.hash))
    }

    /// The daemon's state, from `get_info`.
    pub fn get_info(&self) -> Result<Info, RpcError> {
        self.call("get_info", json!({}))
    }

    /// A block template paying `wallet_address`, with `reserve_size` bytes reserved.
    pub fn get_block_template(&self, wallet_address: &str, reserve_size: usize) -> Result<Template, RpcError> {
        let raw: RawTemplate =
            self.call("get_block_template", json!({ "wallet_address": wallet_address, "reserve_size": reserve_size }))?;
        let blob = hex::decode(&raw.blocktemplate_blob).map_err(|e| RpcError::Protocol {
            url: self.base.clone(),
            method: "get_block_template".into(),
            detail: format!("blocktemplate_blob is not hex: {e}"),
        })?;
        Ok(Template { blob, reserved_offset: raw.reserved_offset, height: raw.height, prev_hash: raw.prev_hash })
    }

    /// Submits a block. `Ok` only means the daemon did not refuse it: it answers OK also for blocks it
    /// keeps off its main chain, so callers check the tip.
    pub fn submit_block(&self, blob: &[u8]) -> Result<(), RpcError> {
        let _: Value = self.call("submit_block", json!([hex::encode(blob)]))?;
        Ok(())
    }

    /// Asks the daemon to shut down (`/stop_daemon`); it exits cleanly shortly after answering.
    pub fn stop_daemon(&self) -> Result<(), RpcError> {
        let url = format!("{}/stop_daemon", self.base);
        let resp = self
            .agent
            .post(&url)
            .send_json(json!({}))
            .map_err(|e| RpcError::Unreachable { url: self.base.clone(), detail: e.to_string() })?;
        match resp.status().as_u16() {
            200 => Ok(()),
            status => Err(RpcError::Status { url: self.base.clone(), method: "stop_daemon".into(), status }),
        }
    }

    /// Removes the `n` top blocks of the daemon's chain (`/pop_blocks`, an administrative call: tests
    /// make reorganizations with it). Returns the new chain height.
    pub fn pop_blocks(&self, n: u64) -> Result<u64, RpcError> {
        #[derive(Deserialize)]
        struct Answer {
            height: u64,
        }
        let url = format!("{}/pop_blocks", self.base);
        let mut resp = self
            .agent
            .post(&url)
            .send_json(json!({ "nblocks": n }))
            .map_err(|e| RpcError::Unreachable { url: self.base.clone(), detail: e.to_string() })?;
        let a: Answer = resp.body_mut().read_json().map_err(|e| RpcError::Protocol {
            url: self.base.clone(),
            method: "pop_blocks".into(),
            detail: e.to_string(),
        })?;
        Ok(a.height)
    }

    /// The header of the daemon's tip.
    pub fn last_block_header(&self) -> Result<DaemonHeader, RpcError> {
        Ok(self.call::<HeaderAnswer>("get_last_block_header", json!({}))?.block_header)
    }

    /// The stored blob of the block at `height`.
    pub fn block_blob(&self, height: u64) -> Result<Vec<u8>, RpcError> {
        #[derive(Deserialize)]
        struct Answer {
            blob: String,
        }
        let a: Answer = self.call("get_block", json!({ "height": height }))?;
        hex::decode(&a.blob).map_err(|e| RpcError::Protocol {
            url: self.base.clone(),
            method: "get_block".into(),
            detail: format!("blob is not hex: {e}"),
        })
    }

    /// The block at `height`: its stored blob and the daemon's header of it, in one call.
    pub fn block(&self, height: u64) -> Result<(Vec<u8>, DaemonHeader), RpcError> {
        #[derive(Deserialize)]
        struct Answer {
            blob: String,
            block_header: DaemonHeader,
        }
        let a: Answer = self.call("get_block", json!({ "height": height }))?;
        let blob = hex::decode(&a.blob).map_err(|e| RpcError::Protocol {
            url: self.base.clone(),
            method: "get_block".into(),
            detail: format!("blob is not hex: {e}"),
        })?;
        Ok((blob, a.block_header))
    }

    /// The header of the block at `height`.
    pub fn block_header_by_height(&self, height: u64) -> Result<DaemonHeader, RpcError> {
        Ok(self.call::<HeaderAnswer>("get_block_header_by_height", json!({ "height": height }))?.block_header)
    }

    /// The headers of the blocks at heights `start..=end` of the daemon's main chain, in height order
    /// (`get_block_headers_range`; a restricted RPC serves at most 1,000 at a time). An answer with
    /// other heights, or out of order, is a protocol error.
    pub fn block_headers_range(&self, start: u64, end: u64) -> Result<Vec<DaemonHeader>, RpcError> {
        #[derive(Deserialize)]
        struct Answer {
            headers: Vec<DaemonHeader>,
        }
        let method = "get_block_headers_range";
        let a: Answer = self.call(method, json!({ "start_height": start, "end_height": end }))?;
        let in_order = a.headers.iter().zip(start..).all(|(h, want)| h.height == want);
        if !in_order || a.headers.len() as u64 != end.saturating_sub(start) + 1 {
            return Err(RpcError::Protocol {
                url: self.base.clone(),
                method: method.into(),
                detail: format!("asked for heights {start}..={end}, got {} headers not in that order", a.headers.len()),
            });
        }
        Ok(a.headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout() -> RpcError {
        RpcError::Timeout { url: "http://d".into(), method: "get_info".into() }
    }

    /// Transient errors are tried again until the call succeeds; any other error ends it at once.
    #[test]
    fn only_transient_errors_are_retried() {
        let (ms, long) = (Duration::from_millis(1), Duration::from_secs(10));
        let mut calls = 0;
        let r = retry_transient(long, ms, ms, || {
            calls += 1;
            if calls < 3 {
                Err(timeout())
            } else {
                Ok(calls)
            }
        });
        assert_eq!(r.unwrap(), 3);

        let mut calls = 0;
        let r: Result<(), _> = retry_transient(long, ms, ms, || {
            calls += 1;
            Err(RpcError::Status { url: "http://d".into(), method: "get_info".into(), status: 404 })
        });
        assert_eq!((r.unwrap_err().to_string(), calls), ("http://d: get_info: HTTP status 404".into(), 1));
        assert!(timeout().is_transient());
    }
}
