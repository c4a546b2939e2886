//! A network's identity — a profile's `[network]` table — and the one place a [`ReplayEnv`] is made:
//!
//! ```toml
//! [network]
//! name = "xcash-migration"
//! network_id = "1230f171610441611731008216a1a110"   # 16 bytes hex
//! genesis_id = "418015bb…32e3"                       # refuse other chains
//! p2p_network_id = "…"                               # optional: the nodes' P2P id, when it differs
//! ```
//! Two ids, two jobs: `network_id` is the domain of every signed leader record and vote (it binds a
//! signature to this network); `p2p_network_id` is what the network's nodes put in a P2P handshake
//! (monerod's compiled-in `NETWORK_ID`), the id `dualrun net isolation` proves foreign peers cannot use.
//! Without `p2p_network_id` the two are the same. Every problem is reported with the profile file and
//! the field (`network.network_id`).

use std::path::{Path, PathBuf};

use dualrun_core::ReplayEnv;
use dualrun_format::Hash32;
use serde::Deserialize;

use crate::context::ChainContext;

/// A profile's `[network]` table as written; [`Network::from_table`] checks it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkTable {
    name: String,
    network_id: String,
    genesis_id: String,
    p2p_network_id: Option<String>,
}

/// A network's identity, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The network's name.
    pub name: String,
    /// The network id, part of every signed message.
    pub network_id: [u8; 16],
    /// The id of the chain's block 0; other chains are refused.
    pub genesis_id: Hash32,
    /// The id the network's nodes use in P2P handshakes (`network_id` unless the profile says otherwise).
    pub p2p_network_id: [u8; 16],
    /// The profile it was read from (for messages).
    pub source: PathBuf,
}

/// A `[network]` table that cannot be used, or a chain that is not the network's.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A field's value is not acceptable.
    #[error("{file}: {field}: {problem}")]
    Field {
        /// The profile file.
        file: PathBuf,
        /// The field's dotted path in the TOML.
        field: &'static str,
        /// What is wrong with it.
        problem: HexFieldError,
    },
    /// The chain's block 0 is not the network's genesis block.
    #[error(
        "{file}: network.genesis_id is {expected} but the chain's block 0 is {actual}: this profile is for another chain"
    )]
    GenesisMismatch {
        /// The profile file.
        file: PathBuf,
        /// The network's genesis id.
        expected: Hash32,
        /// The id of the chain's block 0.
        actual: Hash32,
    },
}

/// A profile field that is not the hex of a fixed number of bytes (`network_id`, `genesis_id`, a key).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HexFieldError {
    /// Not hex at all.
    #[error("not hex ({source}): {text:?}")]
    NotHex {
        /// The field's value.
        text: String,
        /// Why it does not decode.
        #[source]
        source: hex::FromHexError,
    },
    /// Hex of the wrong number of bytes.
    #[error("{len} bytes, expected {expected} ({} hex characters)", 2 * .expected)]
    WrongLength {
        /// The bytes the hex decodes to.
        len: usize,
        /// The bytes the field has.
        expected: usize,
    },
}

/// The `N` bytes a profile field's hex stands for.
pub fn hex_array<const N: usize>(s: &str) -> Result<[u8; N], HexFieldError> {
    let bytes = hex::decode(s).map_err(|source| HexFieldError::NotHex { text: s.to_owned(), source })?;
    bytes.try_into().map_err(|b: Vec<u8>| HexFieldError::WrongLength { len: b.len(), expected: N })
}

impl Network {
    /// Checks a profile's `[network]` table; `source` names the profile in errors.
    pub fn from_table(table: NetworkTable, source: &Path) -> Result<Network, NetworkError> {
        let field = |field, problem| NetworkError::Field { file: source.to_path_buf(), field, problem };
        let network_id = hex_array::<16>(&table.network_id).map_err(|p| field("network.network_id", p))?;
        let genesis_id = Hash32(hex_array::<32>(&table.genesis_id).map_err(|p| field("network.genesis_id", p))?);
        let p2p_network_id = match &table.p2p_network_id {
            Some(hex) => hex_array::<16>(hex).map_err(|p| field("network.p2p_network_id", p))?,
            None => network_id,
        };
        Ok(Network { name: table.name, network_id, genesis_id, p2p_network_id, source: source.to_path_buf() })
    }

    /// Refuses a chain whose block 0 is not this network's genesis.
    pub fn check_genesis(&self, chain_genesis: &Hash32) -> Result<(), NetworkError> {
        if *chain_genesis != self.genesis_id {
            return Err(NetworkError::GenesisMismatch {
                file: self.source.clone(),
                expected: self.genesis_id,
                actual: *chain_genesis,
            });
        }
        Ok(())
    }

    /// The env of the block `ctx` is positioned at: this network's fields, the first height whose
    /// blocks need a leader record, the previous id and timestamps, and `now`. The one place a
    /// [`ReplayEnv`] is made.
    pub fn env(&self, activation_height: u64, ctx: &ChainContext, now: u64) -> ReplayEnv {
        ReplayEnv {
            now,
            network_name: self.name.clone(),
            network_id: hex::encode(self.network_id),
            genesis_id: self.genesis_id,
            activation_height,
            prev_id: ctx.prev_id(),
            timestamps: ctx.timestamps().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const GENESIS: &str = "418015bb9ae982a1975da7d79277c2705727a56894ba0fb246adaabb1f4632e3";

    fn network(network_id: &str, genesis_id: &str) -> Result<Network, NetworkError> {
        let text = format!("name = \"t\"\nnetwork_id = \"{network_id}\"\ngenesis_id = \"{genesis_id}\"\n");
        Network::from_table(toml::from_str(&text).unwrap(), Path::new("p.toml"))
    }

    /// Each problem names the profile and the field, as profiles have always said it.
    #[test]
    fn problems_name_the_field() {
        let net = "00112233445566778899aabbccddeeff";
        assert_eq!(
            network("0011", GENESIS).unwrap_err().to_string(),
            "p.toml: network.network_id: 2 bytes, expected 16 (32 hex characters)"
        );
        assert!(network(net, "zz").unwrap_err().to_string().starts_with("p.toml: network.genesis_id: not hex"));
        let n = network(net, GENESIS).unwrap();
        let other: Hash32 = "557393c3e80695e94603e92b4dbf7a2b974c16cf12d1b470d2882916cbfee468".parse().unwrap();
        assert_eq!(
            n.check_genesis(&other).unwrap_err().to_string(),
            format!(
                "p.toml: network.genesis_id is {GENESIS} but the chain's block 0 is {other}: this profile is for another chain"
            )
        );
        assert!(n.check_genesis(&n.genesis_id).is_ok());
    }

    /// Without `p2p_network_id` the P2P id is the network id; with it, its own (checked like the others).
    #[test]
    fn the_p2p_id_defaults_to_the_network_id() {
        let net = "00112233445566778899aabbccddeeff";
        assert_eq!(network(net, GENESIS).unwrap().p2p_network_id, hex_array::<16>(net).unwrap());
        let with = |p2p: &str| {
            let text = format!(
                "name = \"t\"\nnetwork_id = \"{net}\"\ngenesis_id = \"{GENESIS}\"\np2p_network_id = \"{p2p}\"\n"
            );
            Network::from_table(toml::from_str(&text).unwrap(), Path::new("p.toml"))
        };
        let n = with("ffeeddccbbaa99887766554433221100").unwrap();
        assert_eq!(hex::encode(n.p2p_network_id), "ffeeddccbbaa99887766554433221100");
        assert_eq!(hex::encode(n.network_id), net);
        assert_eq!(
            with("ffee").unwrap_err().to_string(),
            "p.toml: network.p2p_network_id: 2 bytes, expected 16 (32 hex characters)"
        );
    }

    /// The env carries the network, the activation height and the context's previous id and window.
    #[test]
    fn the_env_is_the_network_in_its_context() {
        let n = network("00112233445566778899aabbccddeeff", GENESIS).unwrap();
        let mut ctx = ChainContext::new();
        assert_eq!(n.env(5, &ctx, 7).prev_id, None);
        ctx.advance(n.genesis_id, 100);
        let env = n.env(5, &ctx, 7);
        assert_eq!(
            (env.network_name.as_str(), env.network_id.as_str(), env.activation_height, env.now),
            ("t", "00112233445566778899aabbccddeeff", 5, 7)
        );
        assert_eq!((env.genesis_id, env.prev_id, env.timestamps), (n.genesis_id, Some(n.genesis_id), vec![100]));
    }
}
