//! A real monerod (Debian's 0.18) for the system tests: regtest (or testnet, stagenet), offline or with
//! exclusive loopback peers only, ports of its own, a fresh data directory; killed when dropped unless
//! stopped cleanly first.

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
    /// How it was started.
    pub config: Config,
}

/// A loopback port for a daemon or server a test starts, never the same twice in this process, and from
/// below the kernel's ephemeral range (32768–60999): a port asked of the kernel (`bind` to port 0) is
/// free only at the moment of asking, and many daemons started side by side would sooner or later be
/// handed one another's — or an outgoing connection's — port (a daemon then peers with a stranger, or
/// a publisher cannot bind). Each port is checked bindable before it is handed out.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    // Processes (test binaries run one after another, but a developer may run two) start apart.
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let _ = NEXT.compare_exchange(u32::MAX, (std::process::id() * 7919) % SPAN, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..SPAN {
        let port = (FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between {FIRST} and {}", FIRST + SPAN)
}

/// Which network a daemon runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// `--regtest --fixed-difficulty 1`: a fakechain on mainnet's network id, mined on demand.
    Regtest,
    /// `--testnet`.
    Testnet,
    /// `--stagenet`.
    Stagenet,
}

/// Whom a daemon talks to over P2P.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peers {
    /// `--offline --in-peers 0`: no P2P at all.
    Offline,
    /// Incoming peers accepted on its P2P port, and only these loopback ports dialled
    /// (`--add-exclusive-node` each). Never empty: with none it is given one unused port, so it never
    /// reaches for the public seed nodes (which an empty peer list makes it do).
    Exclusive(Vec<u16>),
}

/// How a daemon is started.
#[derive(Debug, Clone)]
pub struct Config {
    /// Its network.
    pub net: Net,
    /// Its peers.
    pub peers: Peers,
    /// Its RPC port on 127.0.0.1.
    pub rpc_port: u16,
    /// Its P2P port on 127.0.0.1.
    pub p2p_port: u16,
    /// `--keep-fakechain`: start on the chain already in the data directory (a restart).
    pub keep_chain: bool,
    /// `--zmq-pub ENDPOINT`.
    pub zmq_pub: Option<String>,
}

impl Config {
    /// A regtest daemon, offline, on free ports.
    pub fn regtest() -> Config {
        Config {
            net: Net::Regtest,
            peers: Peers::Offline,
            rpc_port: free_port(),
            p2p_port: free_port(),
            keep_chain: false,
            zmq_pub: None,
        }
    }

    /// The same daemon on other peers (ports and network kept).
    pub fn with_peers(&self, peers: Peers) -> Config {
        Config { peers, ..self.clone() }
    }
}

impl Monerod {
    /// A fresh regtest daemon in `data_dir`, on ports of its own.
    pub fn start(data_dir: &Path) -> Monerod {
        Monerod::launch(data_dir, &Config::regtest())
    }

    /// A daemon on RPC port `rpc`; `keep` starts it on the chain already in `data_dir` (a restart).
    pub fn start_at(data_dir: &Path, rpc: u16, keep: bool) -> Monerod {
        Monerod::launch(data_dir, &Config { rpc_port: rpc, keep_chain: keep, ..Config::regtest() })
    }

    /// A fresh regtest daemon that accepts incoming P2P peers on 127.0.0.1:[`Monerod::p2p_port`] and dials
    /// no one (its one exclusive peer an unused loopback port).
    pub fn start_accepting_peers(data_dir: &Path) -> Monerod {
        Monerod::launch(data_dir, &Config { peers: Peers::Exclusive(vec![]), ..Config::regtest() })
    }

    /// A daemon publishing new blocks on ZMQ; returns it and the publisher's endpoint.
    pub fn start_publishing(data_dir: &Path) -> (Monerod, String) {
        let endpoint = format!("tcp://127.0.0.1:{}", free_port());
        (Monerod::launch(data_dir, &Config { zmq_pub: Some(endpoint.clone()), ..Config::regtest() }), endpoint)
    }

    /// Starts a daemon as `config` says, on loopback only, in `data_dir`.
    pub fn launch(data_dir: &Path, config: &Config) -> Monerod {
        let monerod = crate::tool::require(crate::tool::MONEROD);
        let mut cmd = Command::new(monerod);
        match config.net {
            Net::Regtest => cmd.args(["--regtest", "--fixed-difficulty", "1"]),
            Net::Testnet => cmd.arg("--testnet"),
            Net::Stagenet => cmd.arg("--stagenet"),
        };
        if config.keep_chain {
            cmd.arg("--keep-fakechain");
        }
        if let Some(endpoint) = &config.zmq_pub {
            cmd.args(["--zmq-pub", endpoint]);
        }
        match &config.peers {
            Peers::Offline => {
                cmd.args(["--offline", "--in-peers", "0", "--out-peers", "0"]);
            }
            Peers::Exclusive(ports) => {
                let ports = if ports.is_empty() { vec![free_port()] } else { ports.clone() };
                for port in &ports {
                    cmd.args(["--add-exclusive-node", &format!("127.0.0.1:{port}")]);
                }
                // With real peers, dial them; with none, the one unused port is never dialled.
                let out = if config.peers == Peers::Exclusive(vec![]) { 0 } else { ports.len() };
                cmd.args(["--out-peers", &out.to_string()]);
                // Every peer is on 127.0.0.1, and monerod takes one incoming connection per address by
                // default: a node dialled by two peers would refuse one of them and wait for its next
                // timed sync (a minute) to learn of blocks that peer relayed.
                cmd.args(["--max-connections-per-ip", "8"]);
            }
        }
        let child = cmd
            .args(["--non-interactive", "--no-igd", "--disable-dns-checkpoints", "--check-updates", "disabled"])
            .args(["--hide-my-port", "--rpc-ssl", "disabled"])
            .args(["--p2p-bind-ip", "127.0.0.1", "--rpc-bind-ip", "127.0.0.1", "--zmq-rpc-bind-ip", "127.0.0.1"])
            .args(["--p2p-bind-port", &config.p2p_port.to_string()])
            .args(["--rpc-bind-port", &config.rpc_port.to_string()])
            .args(["--zmq-rpc-bind-port", &free_port().to_string()])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--log-file")
            .arg(data_dir.join("monerod.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start monerod");
        Monerod {
            child,
            rpc_url: format!("http://127.0.0.1:{}", config.rpc_port),
            data_dir: data_dir.to_path_buf(),
            p2p_port: config.p2p_port,
            config: config.clone(),
        }
    }

    /// An RPC client of it.
    pub fn rpc(&self) -> dualrun_rpc::Daemon {
        dualrun_rpc::Daemon::new(&self.rpc_url, std::time::Duration::from_secs(30))
    }

    /// Waits until the RPC answers and, when it publishes, its ZMQ publisher accepts connections (at most
    /// 90 s).
    pub fn wait_ready(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        let publisher = self.config.zmq_pub.as_deref().and_then(|e| e.strip_prefix("tcp://")).map(str::to_owned);
        let ready = |d: &Monerod| {
            let publishing = match publisher.as_deref() {
                Some(a) => std::net::TcpStream::connect(a).is_ok(),
                None => true,
            };
            publishing && d.rpc().get_info().is_ok()
        };
        while !ready(self) {
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

    /// The LMDB directory of the daemon's chain.
    pub fn lmdb(&self) -> PathBuf {
        let net = match self.config.net {
            Net::Regtest => "fake",
            Net::Testnet => "testnet",
            Net::Stagenet => "stagenet",
        };
        self.data_dir.join(net).join("lmdb")
    }

    /// Stops it cleanly and starts it again on its chain (`--keep-fakechain`), same ports, with `peers`.
    pub fn restart(&mut self, peers: Peers) {
        self.stop();
        let config = Config { keep_chain: true, ..self.config.with_peers(peers) };
        *self = Monerod::launch(&self.data_dir.clone(), &config);
        self.wait_ready();
    }
}

impl Drop for Monerod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
