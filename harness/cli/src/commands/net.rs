//! `dualrun net …`: the migration network's P2P checks. `net handshake` opens a P2P connection to a node
//! and sends a handshake as a peer of the network named, then prints what the node did: accepted (its
//! network id, height, top block and version) or refused. `net isolation` proves a private network's
//! nodes accept its own id and refuse every foreign one, and writes the evidence the gate takes.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use dualrun_leader::Profile;
use dualrun_p2p::isolation::{self, ForeignNetwork, IsolationRequest, Observed, Subject};
use dualrun_p2p::{Outcome as Handshake, MAINNET_NETWORK_ID, STAGENET_NETWORK_ID, TESTNET_NETWORK_ID};

use crate::format_arg::Object;
use crate::Outcome;

#[derive(Subcommand)]
pub(crate) enum NetCommand {
    /// Sends a P2P handshake to a node as a peer of a network: exit 0 when the node accepts it, 1 when it
    /// refuses it, 2 when the node cannot be reached or answers with something that is not a handshake.
    Handshake(HandshakeArgs),
    /// Proves a private network's isolation: every peer must accept the profile's P2P network id and
    /// refuse mainnet's, testnet's, stagenet's and every --foreign id. Exit 0 only then; 1 naming the peer
    /// and the id that got through (or the own id refused); 2 when a peer gave no clear answer. --out
    /// writes the evidence file `gate evaluate --isolation` takes, whatever the outcome.
    Isolation(IsolationArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Network {
    /// Monero's mainnet (a regtest daemon uses its id too).
    Mainnet,
    /// Monero's testnet.
    Testnet,
    /// Monero's stagenet.
    Stagenet,
}

#[derive(Args)]
pub(crate) struct HandshakeArgs {
    /// The node's P2P address (HOST:PORT).
    #[arg(long, value_name = "HOST:PORT")]
    peer: String,
    /// The network to claim, by name.
    #[arg(long, value_enum, conflicts_with = "network_id", required_unless_present_any = ["network_id", "profile"])]
    network: Option<Network>,
    /// The network to claim, by its 16-byte id in hex.
    #[arg(long, value_name = "HEX", conflicts_with = "profile")]
    network_id: Option<String>,
    /// The network to claim: the profile's P2P network id (`network.p2p_network_id`, else
    /// `network.network_id`).
    #[arg(long, value_name = "FILE", conflicts_with = "network")]
    profile: Option<PathBuf>,
    /// Seconds the connection and the exchange may take in all.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

#[derive(Args)]
pub(crate) struct IsolationArgs {
    /// The private network's profile: its P2P network id is the one every peer must accept.
    #[arg(long, value_name = "FILE")]
    profile: PathBuf,
    /// A node of the private network (HOST:PORT of its P2P port); repeat for each.
    #[arg(long, value_name = "HOST:PORT", required = true, num_args = 1..)]
    peer: Vec<String>,
    /// Another network id (16 bytes hex) every peer must refuse, besides Monero's three; repeatable.
    #[arg(long, value_name = "HEX")]
    foreign: Vec<String>,
    /// Writes the evidence file here (JSON with its own digest).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Seconds each handshake may take.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    #[command(flatten)]
    format: Object,
}

pub(crate) fn run(cmd: NetCommand) -> Result<Outcome> {
    match cmd {
        NetCommand::Handshake(a) => handshake(&a),
        NetCommand::Isolation(a) => isolation(&a),
    }
}

fn timeout(seconds: f64) -> Result<Duration> {
    if !(seconds > 0.0 && seconds.is_finite()) {
        bail!("--timeout must be a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn network_id_arg(flag: &str, hex_id: &str) -> Result<[u8; 16]> {
    hex::decode(hex_id)
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{flag} {hex_id}: not 16 bytes of hex"))
}

fn handshake(a: &HandshakeArgs) -> Result<Outcome> {
    let timeout = timeout(a.timeout)?;
    let network_id = match (a.network, &a.network_id, &a.profile) {
        (Some(Network::Mainnet), ..) => MAINNET_NETWORK_ID,
        (Some(Network::Testnet), ..) => TESTNET_NETWORK_ID,
        (Some(Network::Stagenet), ..) => STAGENET_NETWORK_ID,
        (None, Some(hex_id), _) => network_id_arg("--network-id", hex_id)?,
        (None, None, Some(profile)) => Profile::load(profile)?.p2p_network_id,
        (None, None, None) => bail!("give --network, --network-id or --profile"),
    };
    let addr: SocketAddr = a
        .peer
        .to_socket_addrs()
        .with_context(|| format!("--peer {}: not an address", a.peer))?
        .next()
        .with_context(|| format!("--peer {}: resolves to no address", a.peer))?;
    let sent = hex::encode(network_id);
    match dualrun_p2p::handshake(addr, network_id, timeout).with_context(|| format!("handshake with {}", a.peer))? {
        Handshake::Accepted { network_id, height, top_id, top_version, .. } => {
            outln!(
                "{}: accepted a peer of network {sent}: it reports network {}, height {height}, top block {} \
                 (version {top_version})",
                a.peer,
                hex::encode(network_id),
                hex::encode(top_id)
            )?;
            Ok(Outcome::Clean)
        }
        Handshake::Refused { why } => {
            outln!("{}: refused a peer of network {sent}: {why}", a.peer)?;
            Ok(Outcome::Finding)
        }
    }
}

fn isolation(a: &IsolationArgs) -> Result<Outcome> {
    let timeout = timeout(a.timeout)?;
    let profile = Profile::load(&a.profile)?;
    let mut foreign: Vec<(ForeignNetwork, [u8; 16])> = ForeignNetwork::monero()
        .into_iter()
        .zip([MAINNET_NETWORK_ID, TESTNET_NETWORK_ID, STAGENET_NETWORK_ID])
        .collect();
    for (i, hex_id) in a.foreign.iter().enumerate() {
        let id = network_id_arg("--foreign", hex_id)?;
        if !foreign.iter().any(|(_, known)| *known == id) {
            foreign.push((ForeignNetwork::new(&format!("foreign-{}", i + 1), id), id));
        }
    }
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let request = IsolationRequest {
        subject: Subject {
            profile: a.profile.display().to_string(),
            profile_digest: profile.digest.to_string(),
            network: profile.name.clone(),
            p2p_network_id: hex::encode(profile.p2p_network_id),
        },
        own_id: profile.p2p_network_id,
        peers: a.peer.clone(),
        foreign,
        timeout,
        checked_at: dualrun_core::UtcTime::from_unix(secs).stamp(),
    };
    let evidence = isolation::check(&request);
    if let Some(out) = &a.out {
        evidence.write(out)?;
    }
    if a.format.json() {
        outln!("{}", serde_json::to_string_pretty(&evidence)?)?;
    } else {
        print_isolation(&evidence, a.out.as_deref())?;
    }
    Ok(if evidence.proven {
        Outcome::Clean
    } else if evidence.findings.iter().all(isolation::Finding::is_undetermined) {
        Outcome::Incomplete
    } else {
        Outcome::Finding
    })
}

fn print_isolation(e: &isolation::IsolationEvidence, out: Option<&std::path::Path>) -> Result<()> {
    let s = &e.subject;
    outln!("network {} (P2P network id {}), profile {} {}", s.network, s.p2p_network_id, s.profile, s.profile_digest)?;
    for c in &e.checks {
        let what = match &c.observed {
            Observed::Accepted { network_id, height, .. } => {
                format!("accepted (reports network {network_id}, height {height})")
            }
            Observed::Refused { why } => format!("refused ({why})"),
            Observed::NoAnswer { error } => format!("no answer ({error})"),
        };
        let expected = match c.expected {
            isolation::Expected::Accepted => "must accept",
            isolation::Expected::Refused => "must refuse",
        };
        outln!("  {}  {:<10} {}  {expected}: {what}", c.peer, c.network, c.network_id)?;
    }
    for f in &e.findings {
        outln!("finding: {f}")?;
    }
    let verdict = if e.proven {
        format!("isolation proven for {} peers", e.peers().len())
    } else {
        format!("isolation NOT proven: {} findings", e.findings.len())
    };
    match out {
        Some(out) => outln!("{verdict}; evidence {} (digest {})", out.display(), e.digest),
        None => outln!("{verdict} (no --out: no evidence file written)"),
    }
}
