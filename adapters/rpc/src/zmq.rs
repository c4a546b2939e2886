//! New-block notices from the daemon's ZMQ publisher (monerod `--zmq-pub tcp://HOST:PORT`, topic
//! `json-minimal-chain_main`). A notice only wakes a reader early (`follow`'s daemon source, a fleet
//! node's poller): the blocks are still read over RPC, in order, and polling goes on underneath, so a
//! publisher that is down, slow or drops a message costs latency, never a block.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use zeromq::{Socket, SocketRecv, SubSocket};

/// How often the subscription is said again until the first notice arrives.
pub const RESUBSCRIBE: Duration = Duration::from_secs(2);

/// The topic monerod publishes new main-chain blocks on.
pub const TOPIC: &str = "json-minimal-chain_main";

/// Subscribes to `endpoint` on a thread of its own; each notice arrives on the receiver (notices that
/// come while one is pending are merged). Connection failures are logged and retried.
pub fn notices(endpoint: &str) -> std::io::Result<Receiver<()>> {
    let (tx, rx) = sync_channel(1);
    let endpoint = endpoint.to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    std::thread::Builder::new().name("dualrun-zmq".into()).spawn(move || runtime.block_on(listen(&endpoint, &tx)))?;
    Ok(rx)
}

async fn listen(endpoint: &str, tx: &SyncSender<()>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match session(endpoint, tx).await {
            Ok(()) => return, // the source is gone
            Err(e) => {
                tracing::warn!(endpoint, error = %e, "ZMQ notices unavailable; polling meanwhile, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// One subscription: notices until the connection fails (`Err`) or nobody listens any more (`Ok`). Until
/// the first notice arrives the subscription is said again every [`RESUBSCRIBE`]: one sent before the
/// publisher accepted the connection (a daemon still starting) can be lost, and the socket would then
/// wait for ever on a publisher that sends it nothing. Saying it twice is harmless.
async fn session(endpoint: &str, tx: &SyncSender<()>) -> Result<(), zeromq::ZmqError> {
    let mut socket = SubSocket::new();
    socket.connect(endpoint).await?;
    socket.subscribe(TOPIC).await?;
    tracing::info!(endpoint, topic = TOPIC, "subscribed to the daemon's new-block notices");
    let mut heard = false;
    loop {
        if heard {
            socket.recv().await?;
        } else {
            match tokio::time::timeout(RESUBSCRIBE, socket.recv()).await {
                Ok(message) => {
                    message?;
                    heard = true;
                }
                Err(_) => {
                    socket.subscribe(TOPIC).await?;
                    continue;
                }
            }
        }
        match tx.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => return Ok(()),
        }
    }
}
