//! A real monerod (Debian's 0.18) for the system tests: regtest, offline, loopback ports of its own, a
//! fresh data directory; killed when dropped unless stopped cleanly first.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A real monerod (Debian's 0.18) in regtest, offline, on loopback ports of its own, in a fresh data
/// dir. Killed when dropped unless stopped cleanly first.
pub struct Monerod {
    /// The daemon's process.
    pub child: std::process::Child,
    /// Its RPC address.
    pub rpc_url: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Its P2P port on 127.0.0.1.
    pub p2p_port: u16,
}

/// A loopback port free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Monerod {
    /// A fresh regtest daemon in `data_dir`, on ports of its own.
    pub fn start(data_dir: &Path) -> Monerod {
        Monerod::start_at(data_dir, free_port(), false)
    }

    /// A daemon on RPC port `rpc`; `keep` starts it on the chain already in `data_dir` (a restart).
    pub fn start_at(data_dir: &Path, rpc: u16, keep: bool) -> Monerod {
        let extra: Vec<String> = if keep { vec!["--keep-fakechain".into()] } else { vec![] };
        Monerod::start_with(data_dir, rpc, &extra)
    }

    /// A fresh regtest daemon that accepts incoming P2P peers on 127.0.0.1:[`Monerod::p2p_port`]: not
    /// `--offline` (which does not listen for peers) and without an incoming-peer limit of 0; it connects
    /// out to no one (`--out-peers 0`, its one exclusive peer an unused loopback port).
    pub fn start_accepting_peers(data_dir: &Path) -> Monerod {
        Monerod::spawn(data_dir, free_port(), &[], false)
    }

    /// A daemon publishing new blocks on ZMQ; returns it and the publisher's endpoint.
    pub fn start_publishing(data_dir: &Path) -> (Monerod, String) {
        let endpoint = format!("tcp://127.0.0.1:{}", free_port());
        (Monerod::start_with(data_dir, free_port(), &["--zmq-pub".to_owned(), endpoint.clone()]), endpoint)
    }

    fn start_with(data_dir: &Path, rpc: u16, extra: &[String]) -> Monerod {
        Monerod::spawn(data_dir, rpc, extra, true)
    }

    /// `offline`: no P2P at all (`--offline`, `--in-peers 0`); otherwise incoming peers are accepted.
    fn spawn(data_dir: &Path, rpc: u16, extra: &[String], offline: bool) -> Monerod {
        // Not offline: its only peer is a loopback port no one listens on, so it never reaches for the
        // public seed nodes (which an empty peer list makes it do).
        let nowhere = format!("127.0.0.1:{}", free_port());
        let isolation: Vec<&str> =
            if offline { vec!["--offline", "--in-peers", "0"] } else { vec!["--add-exclusive-node", &nowhere] };
        let monerod = crate::tool::require(crate::tool::MONEROD);
        let p2p_port = free_port();
        let child = Command::new(monerod)
            .args(extra)
            .args(isolation)
            .args(["--regtest", "--fixed-difficulty", "1", "--non-interactive", "--no-igd"])
            .args(["--disable-dns-checkpoints", "--check-updates", "disabled", "--hide-my-port"])
            .args(["--out-peers", "0", "--rpc-ssl", "disabled"])
            .args(["--p2p-bind-ip", "127.0.0.1", "--rpc-bind-ip", "127.0.0.1", "--zmq-rpc-bind-ip", "127.0.0.1"])
            .args(["--p2p-bind-port", &p2p_port.to_string()])
            .args(["--rpc-bind-port", &rpc.to_string()])
            .args(["--zmq-rpc-bind-port", &free_port().to_string()])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--log-file")
            .arg(data_dir.join("monerod.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start monerod");
        Monerod { child, rpc_url: format!("http://127.0.0.1:{rpc}"), data_dir: data_dir.to_path_buf(), p2p_port }
    }

    /// An RPC client of it.
    pub fn rpc(&self) -> dualrun_rpc::Daemon {
        dualrun_rpc::Daemon::new(&self.rpc_url, std::time::Duration::from_secs(30))
    }

    /// Waits until the RPC answers (at most 90 s).
    pub fn wait_ready(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        while self.rpc().get_info().is_err() {
            assert!(self.child.try_wait().unwrap().is_none(), "monerod exited during start-up");
            assert!(std::time::Instant::now() < deadline, "monerod did not answer within 90 s");
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }

    /// Stops the daemon through its RPC and waits for it to exit, so its database is complete.
    pub fn stop(&mut self) {
        self.rpc().stop_daemon().expect("stop_daemon");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.child.try_wait().unwrap().is_none() {
            assert!(std::time::Instant::now() < deadline, "monerod did not exit after stop_daemon");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The LMDB directory of a regtest daemon.
    pub fn lmdb(&self) -> PathBuf {
        self.data_dir.join("fake/lmdb")
    }
}

impl Drop for Monerod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
