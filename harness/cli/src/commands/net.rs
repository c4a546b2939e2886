//! `dualrun net …`: the migration network's P2P checks. `net handshake` opens a P2P connection to a node
//! and sends a handshake as a peer of the network named, then prints what the node did: accepted (its
//! network id, height, top block and version) or refused.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use dualrun_p2p::{Outcome as Handshake, MAINNET_NETWORK_ID, STAGENET_NETWORK_ID, TESTNET_NETWORK_ID};

use crate::Outcome;

#[derive(Subcommand)]
pub(crate) enum NetCommand {
    /// Sends a P2P handshake to a node as a peer of a network: exit 0 when the node accepts it, 1 when it
    /// refuses it, 2 when the node cannot be reached or answers with something that is not a handshake.
    Handshake(HandshakeArgs),
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
    #[arg(long, value_enum, conflicts_with = "network_id", required_unless_present = "network_id")]
    network: Option<Network>,
    /// The network to claim, by its 16-byte id in hex.
    #[arg(long, value_name = "HEX")]
    network_id: Option<String>,
    /// Seconds the connection and the exchange may take in all.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

pub(crate) fn run(cmd: NetCommand) -> Result<Outcome> {
    match cmd {
        NetCommand::Handshake(a) => handshake(&a),
    }
}

fn handshake(a: &HandshakeArgs) -> Result<Outcome> {
    if !(a.timeout > 0.0 && a.timeout.is_finite()) {
        bail!("--timeout must be a positive number of seconds");
    }
    let network_id = match (a.network, &a.network_id) {
        (Some(Network::Mainnet), _) => MAINNET_NETWORK_ID,
        (Some(Network::Testnet), _) => TESTNET_NETWORK_ID,
        (Some(Network::Stagenet), _) => STAGENET_NETWORK_ID,
        (None, Some(hex_id)) => hex::decode(hex_id)
            .ok()
            .and_then(|b| b.try_into().ok())
            .with_context(|| format!("--network-id {hex_id}: not 16 bytes of hex"))?,
        (None, None) => bail!("give --network or --network-id"),
    };
    let addr: SocketAddr = a
        .peer
        .to_socket_addrs()
        .with_context(|| format!("--peer {}: not an address", a.peer))?
        .next()
        .with_context(|| format!("--peer {}: resolves to no address", a.peer))?;
    let sent = hex::encode(network_id);
    match dualrun_p2p::handshake(addr, network_id, Duration::from_secs_f64(a.timeout))
        .with_context(|| format!("handshake with {}", a.peer))?
    {
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
