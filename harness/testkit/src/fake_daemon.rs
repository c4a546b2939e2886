//! A fake monerod for the tests that need a daemon to misbehave in ways a real one will not on demand:
//! it serves a scripted main chain over JSON-RPC (`get_info`, `get_block`, `get_block_header_by_height`,
//! `get_block_headers_range`, `get_last_block_header`, a scripted `get_block_template`, `submit_block`
//! counted) and `/get_height` on a loopback port; its chain can be replaced while it runs ([`FakeDaemon::set_chain`], a
//! reorganization or a fork on demand, with [`header_chain`] for chains of headers alone); it can answer
//! `get_block` from a height on by dripping a byte every half second forever, or never answer at all.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{json, Value};

/// One block as the fake daemon serves it: its blob and its header (as `get_block` reports it).
#[derive(Clone)]
pub struct ServedBlock {
    /// The block's bytes.
    pub blob: Vec<u8>,
    /// Its `block_header`.
    pub header: Value,
}

/// Blocks `0..=to` of the bundled sample chain, as a daemon holding it would serve them.
pub fn sample_blocks(to: u64) -> Vec<ServedBlock> {
    // LMDB opens an environment once per process: tests running side by side take turns.
    static OPEN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = OPEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let db = dualrun_chaindb::ChainDb::open(&crate::sample_dir()).unwrap();
    let txn = db.read_txn().unwrap();
    db.blocks(&txn, 0, to)
        .unwrap()
        .map(|b| {
            let b = b.unwrap();
            let block = dualrun_format::Block::parse(b.blob).unwrap();
            let id = block.hashes().unwrap().block_id;
            let h = &block.header;
            let header = json!({
                "height": b.height, "hash": id.to_string(), "prev_hash": h.prev_id.to_string(),
                "timestamp": h.timestamp, "major_version": h.major_version, "minor_version": h.minor_version,
                "nonce": h.nonce,
            });
            ServedBlock { blob: b.blob.to_vec(), header }
        })
        .collect()
}

/// A chain of `n` blocks of headers alone, continuing `base` (its blocks kept as they are): block ids are
/// Keccak-256 of `tag`, the height and the parent's id, so two chains with different tags fork where
/// they start. Blobs are empty (for callers that read headers only).
pub fn header_chain(base: &[ServedBlock], n: u64, tag: &str) -> Vec<ServedBlock> {
    let mut chain = base.to_vec();
    for _ in 0..n {
        let height = chain.len() as u64;
        let prev = chain.last().and_then(|b| b.header["hash"].as_str()).unwrap_or(&"00".repeat(32)).to_owned();
        let id = dualrun_format::keccak256(format!("{tag}/{height}/{prev}").as_bytes());
        let header = json!({
            "height": height, "hash": id.to_string(), "prev_hash": prev, "timestamp": 1_700_000_000 + height,
            "major_version": 16, "minor_version": 16, "nonce": 0,
        });
        chain.push(ServedBlock { blob: vec![], header });
    }
    chain
}

/// How the fake daemon behaves.
#[derive(Clone, Default)]
pub struct Script {
    /// Its main chain (its height is the length).
    pub chain: Vec<ServedBlock>,
    /// `get_block` at or above this height drips forever.
    pub drip_from: Option<u64>,
    /// What `get_block_template` answers (its `result`).
    pub template: Option<Value>,
    /// Accept connections and never answer.
    pub silent: bool,
}

/// A running fake daemon; stopped when dropped.
pub struct FakeDaemon {
    /// Its RPC address (`http://127.0.0.1:PORT`).
    pub url: String,
    stop: Arc<AtomicBool>,
    /// Requests answered.
    pub calls: Arc<AtomicUsize>,
    /// `submit_block` calls among them.
    pub submits: Arc<AtomicUsize>,
    chain: Arc<RwLock<Arc<Vec<ServedBlock>>>>,
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

impl FakeDaemon {
    /// Serves `chain` as its main chain from now on (a new block, a reorganization, a fork).
    pub fn set_chain(&self, chain: Vec<ServedBlock>) {
        *self.chain.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(chain);
    }

    /// The chain it serves now.
    pub fn chain(&self) -> Vec<ServedBlock> {
        self.chain.read().unwrap_or_else(std::sync::PoisonError::into_inner).to_vec()
    }

    /// Serves `chain` as the daemon's main chain; `get_block` at or above `drip_from` drips forever.
    pub fn start(chain: Vec<ServedBlock>, drip_from: Option<u64>) -> FakeDaemon {
        FakeDaemon::scripted(Script { chain, drip_from, ..Script::default() })
    }

    /// Serves as `script` says.
    pub fn scripted(script: Script) -> FakeDaemon {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let (calls, submits) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let chain = Arc::new(RwLock::new(Arc::new(script.chain.clone())));
        let script = Arc::new(script);
        let (flag, counted, submitted, served) = (stop.clone(), calls.clone(), submits.clone(), chain.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (script, flag, counted, submitted, served) =
                    (script.clone(), flag.clone(), counted.clone(), submitted.clone(), served.clone());
                std::thread::spawn(move || {
                    if script.silent {
                        while !flag.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        drop(stream);
                        return;
                    }
                    let _ = serve(stream, &script, &served, &flag, &counted, &submitted);
                });
            }
        });
        FakeDaemon { url, stop, calls, submits, chain }
    }
}

fn serve(
    mut stream: TcpStream,
    script: &Script,
    served: &RwLock<Arc<Vec<ServedBlock>>>,
    stop: &AtomicBool,
    calls: &AtomicUsize,
    submits: &AtomicUsize,
) -> std::io::Result<()> {
    let drip_from = script.drip_from;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let height = request["params"]["height"].as_u64().unwrap_or(0);
        calls.fetch_add(1, Ordering::SeqCst);
        let chain = Arc::clone(&served.read().unwrap_or_else(std::sync::PoisonError::into_inner));
        let result = match request["method"].as_str().unwrap_or("") {
            "get_info" => json!({
                "height": chain.len(), "top_block_hash": chain.last().map_or(Value::Null, |b| b.header["hash"].clone()),
                "nettype": "fakechain", "status": "OK",
            }),
            "get_block" if drip_from.is_some_and(|d| height >= d) => {
                write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")?;
                while !stop.load(Ordering::SeqCst) {
                    stream.write_all(b" ")?;
                    std::thread::sleep(Duration::from_millis(500));
                }
                return Ok(());
            }
            "get_block" => match chain.get(height as usize) {
                Some(b) => json!({ "blob": hex::encode(&b.blob), "block_header": b.header, "status": "OK" }),
                None => json!({ "status": "Requested block height is greater than the current top" }),
            },
            "get_block_header_by_height" => match chain.get(height as usize) {
                Some(b) => json!({ "block_header": b.header, "status": "OK" }),
                None => json!({ "status": "Requested block height is greater than the current top" }),
            },
            "get_block_headers_range" => {
                let (start, end) = (
                    request["params"]["start_height"].as_u64().unwrap_or(0),
                    request["params"]["end_height"].as_u64().unwrap_or(0),
                );
                match chain.get(start as usize..=end as usize) {
                    Some(blocks) if start <= end => {
                        json!({ "headers": blocks.iter().map(|b| b.header.clone()).collect::<Vec<_>>(), "status": "OK" })
                    }
                    _ => json!({ "status": "Invalid start/end heights." }),
                }
            }
            "get_last_block_header" => match chain.last() {
                Some(b) => json!({ "block_header": b.header, "status": "OK" }),
                None => json!({ "status": "no blocks" }),
            },
            "get_block_template" => script.template.clone().unwrap_or(json!({ "status": "no template" })),
            "submit_block" => {
                submits.fetch_add(1, Ordering::SeqCst);
                json!({ "status": "OK" })
            }
            other => json!({ "status": format!("fake daemon: no method {other}") }),
        };
        let answer = if path == "/get_height" {
            // A plain (not JSON-RPC) endpoint: the answer is the object itself.
            let top = chain.last().map_or(Value::Null, |b| b.header["hash"].clone());
            serde_json::to_vec(&json!({ "height": chain.len(), "hash": top, "status": "OK", "untrusted": false }))
                .unwrap()
        } else {
            serde_json::to_vec(&json!({ "jsonrpc": "2.0", "id": "0", "result": result })).unwrap()
        };
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        )?;
        stream.write_all(&answer)?;
    }
}
