//! Isolation, proven by handshakes: every node of a private network must accept its own P2P network id
//! and refuse Monero's (mainnet, testnet, stagenet) and any other id named foreign. [`check`] performs
//! the handshakes and keeps them as an [`IsolationEvidence`] — the file `dualrun net isolation --out`
//! writes and the gate's `isolation.proven` criterion reads. The file carries a Keccak-256 digest of its
//! own content: [`IsolationEvidence::load`] refuses a file whose content no longer matches it, and the
//! ledger keeps the digest, so an edit after a promotion shows in `gate verify`.
//!
//! The findings are derived from the checks (never written independently of them):
//! a foreign id accepted, the network's own id refused or answered with another id, the network's id
//! being a foreign one, and a peer that gave no clear answer. Proven means no finding at all.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dualrun_format::file::{read_capped, write_atomic, Links};
use dualrun_format::{keccak256, FileError};
use serde::{Deserialize, Serialize};

use crate::handshake::{handshake, HandshakeError, Outcome};
use crate::{MAINNET_NETWORK_ID, STAGENET_NETWORK_ID, TESTNET_NETWORK_ID};

/// The evidence file's format tag.
pub const FORMAT: &str = "dualrun/isolation/v1";
/// The largest evidence file read (thousands of peers fit).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// A network id the private network's nodes must refuse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignNetwork {
    /// Its name (`mainnet`, or `foreign-1` for an id given on the command line).
    pub name: String,
    /// Its 16-byte id, hex.
    pub network_id: String,
}

impl ForeignNetwork {
    /// A foreign network by name and id.
    pub fn new(name: &str, id: [u8; 16]) -> ForeignNetwork {
        ForeignNetwork { name: name.into(), network_id: hex::encode(id) }
    }

    /// Monero's three networks, always foreign.
    pub fn monero() -> Vec<ForeignNetwork> {
        vec![
            ForeignNetwork::new("mainnet", MAINNET_NETWORK_ID),
            ForeignNetwork::new("testnet", TESTNET_NETWORK_ID),
            ForeignNetwork::new("stagenet", STAGENET_NETWORK_ID),
        ]
    }
}

/// The private network whose isolation is checked: the profile it is named by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// The profile file, as given.
    pub profile: String,
    /// Keccak-256 of the profile file's bytes.
    pub profile_digest: String,
    /// The network's name.
    pub network: String,
    /// The P2P network id its nodes use, hex.
    pub p2p_network_id: String,
}

/// What a handshake should get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expected {
    /// The network's own id: the node must accept it.
    Accepted,
    /// A foreign id: the node must refuse it.
    Refused,
}

/// What a handshake got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum Observed {
    /// The node answered as a peer: what it reported of itself.
    Accepted {
        /// The network id it reported, hex.
        network_id: String,
        /// Its chain height.
        height: u64,
        /// Its top block's id, hex.
        top_id: String,
        /// Its top block's major version.
        top_version: u8,
    },
    /// The node closed the connection or answered with an error code.
    Refused {
        /// What happened.
        why: String,
    },
    /// No clear answer: not reachable, no answer in time, or bytes that are not a handshake.
    NoAnswer {
        /// The error.
        error: String,
    },
}

/// One handshake with one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// The peer, as given (`HOST:PORT`).
    pub peer: String,
    /// The network claimed (`own` for the profile's id, else the foreign network's name).
    pub network: String,
    /// The id claimed, hex.
    pub network_id: String,
    /// What the peer should do.
    pub expected: Expected,
    /// What it did.
    pub observed: Observed,
}

/// Why isolation is not proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "finding", rename_all = "snake_case", deny_unknown_fields)]
pub enum Finding {
    /// The profile's P2P id is one of the foreign ids: the network is not apart from it by its id.
    ProfileIdIsForeign {
        /// The foreign network it equals.
        network: String,
    },
    /// A peer accepted a foreign id: a node of that network could join.
    ForeignAccepted {
        /// The peer.
        peer: String,
        /// The foreign network.
        network: String,
        /// Its id, hex.
        network_id: String,
    },
    /// A peer refused the network's own id: it is not a node of this network.
    OwnRefused {
        /// The peer.
        peer: String,
        /// What happened.
        why: String,
    },
    /// A peer accepted the network's own id but reported another.
    OwnMisreported {
        /// The peer.
        peer: String,
        /// The id it reported, hex.
        reported: String,
    },
    /// A peer gave no clear answer: nothing is proven of it.
    NoAnswer {
        /// The peer.
        peer: String,
        /// The network claimed.
        network: String,
        /// The error.
        error: String,
    },
}

impl Finding {
    /// Whether the finding only says that something could not be determined (an unreachable peer), as
    /// opposed to a proven breach.
    pub fn is_undetermined(&self) -> bool {
        matches!(self, Finding::NoAnswer { .. })
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::ProfileIdIsForeign { network } => {
                write!(f, "the profile's P2P network id is {network}'s: the network is not isolated by its id")
            }
            Finding::ForeignAccepted { peer, network, network_id } => {
                write!(f, "{peer} accepted a peer of {network} (network id {network_id})")
            }
            Finding::OwnRefused { peer, why } => write!(f, "{peer} refused the network's own id: {why}"),
            Finding::OwnMisreported { peer, reported } => {
                write!(f, "{peer} accepted the network's own id but reports network {reported}")
            }
            Finding::NoAnswer { peer, network, error } => {
                write!(f, "{peer} gave no clear answer to a peer of {network}: {error}")
            }
        }
    }
}

/// The evidence file: what was checked, how, what each peer did, and the findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsolationEvidence {
    /// [`FORMAT`].
    pub format: String,
    /// The network checked.
    pub subject: Subject,
    /// When the handshakes were made (UTC, ISO 8601 basic; evidence metadata, not part of any verdict).
    pub checked_at: String,
    /// The time each handshake was allowed, in milliseconds.
    pub timeout_ms: u64,
    /// The ids that had to be refused.
    pub foreign: Vec<ForeignNetwork>,
    /// Every handshake, peer by peer in the order given; for each, the own id first.
    pub checks: Vec<Check>,
    /// Why isolation is not proven (empty when it is); derived from the checks.
    pub findings: Vec<Finding>,
    /// Whether every peer accepted the own id and refused every foreign one.
    pub proven: bool,
    /// Keccak-256 of `dualrun/isolation/v1\n` and the compact JSON of this file with `digest` empty.
    pub digest: String,
}

/// An evidence file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IsolationError {
    /// The file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// Not an isolation evidence file.
    #[error("{file}: not a dualrun isolation evidence file: {message}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The content no longer matches the digest it carries.
    #[error("{file}: edited after it was written: its content has digest {computed}, the file says {recorded}")]
    Edited {
        /// The file.
        file: PathBuf,
        /// The digest in the file.
        recorded: String,
        /// The digest of its content.
        computed: String,
    },
}

/// What [`check`] is asked.
#[derive(Debug, Clone)]
pub struct IsolationRequest {
    /// The network checked.
    pub subject: Subject,
    /// Its P2P network id.
    pub own_id: [u8; 16],
    /// The peers (`HOST:PORT`).
    pub peers: Vec<String>,
    /// Ids every peer must refuse (Monero's and any others).
    pub foreign: Vec<(ForeignNetwork, [u8; 16])>,
    /// The time each handshake may take.
    pub timeout: Duration,
    /// When (UTC, ISO 8601 basic), for the record.
    pub checked_at: String,
}

/// Handshakes with every peer (peers in parallel, each peer's handshakes one after another) and the
/// evidence of what they did.
pub fn check(request: &IsolationRequest) -> IsolationEvidence {
    let per_peer: Vec<Vec<Check>> = std::thread::scope(|s| {
        let handles: Vec<_> = request.peers.iter().map(|peer| s.spawn(move || check_peer(request, peer))).collect();
        handles.into_iter().map(|h| h.join().expect("a peer's checks do not panic")).collect()
    });
    let mut evidence = IsolationEvidence {
        format: FORMAT.into(),
        subject: request.subject.clone(),
        checked_at: request.checked_at.clone(),
        timeout_ms: request.timeout.as_millis() as u64,
        foreign: request.foreign.iter().map(|(f, _)| f.clone()).collect(),
        checks: per_peer.into_iter().flatten().collect(),
        findings: vec![],
        proven: false,
        digest: String::new(),
    };
    evidence.findings = evidence.derive_findings();
    evidence.proven = evidence.findings.is_empty();
    evidence.digest = evidence.compute_digest();
    evidence
}

fn check_peer(request: &IsolationRequest, peer: &str) -> Vec<Check> {
    let own = hex::encode(request.own_id);
    let mut claims = vec![("own".to_owned(), request.own_id, Expected::Accepted)];
    claims.extend(
        request
            .foreign
            .iter()
            .filter(|(_, id)| *id != request.own_id) // the same id cannot be both; a finding says so
            .map(|(f, id)| (f.name.clone(), *id, Expected::Refused)),
    );
    let addr = resolve(peer);
    claims
        .into_iter()
        .map(|(network, id, expected)| {
            let observed = match &addr {
                Err(e) => Observed::NoAnswer { error: e.clone() },
                Ok(addr) => observe(handshake(*addr, id, request.timeout)),
            };
            let network_id = if network == "own" { own.clone() } else { hex::encode(id) };
            Check { peer: peer.to_owned(), network, network_id, expected, observed }
        })
        .collect()
}

fn resolve(peer: &str) -> Result<SocketAddr, String> {
    peer.to_socket_addrs()
        .map_err(|e| format!("not an address: {e}"))?
        .next()
        .ok_or_else(|| "resolves to no address".to_owned())
}

fn observe(result: Result<Outcome, HandshakeError>) -> Observed {
    match result {
        Ok(Outcome::Accepted { network_id, height, top_id, top_version, .. }) => {
            Observed::Accepted { network_id: hex::encode(network_id), height, top_id: hex::encode(top_id), top_version }
        }
        Ok(Outcome::Refused { why }) => Observed::Refused { why },
        Err(e) => Observed::NoAnswer { error: e.to_string() },
    }
}

impl IsolationEvidence {
    /// The findings the checks make (in the order of the checks, the profile's own id first).
    pub fn derive_findings(&self) -> Vec<Finding> {
        let own = &self.subject.p2p_network_id;
        let mut findings: Vec<Finding> = self
            .foreign
            .iter()
            .filter(|f| &f.network_id == own)
            .map(|f| Finding::ProfileIdIsForeign { network: f.name.clone() })
            .collect();
        for c in &self.checks {
            let finding = match (&c.expected, &c.observed) {
                (_, Observed::NoAnswer { error }) => {
                    Some(Finding::NoAnswer { peer: c.peer.clone(), network: c.network.clone(), error: error.clone() })
                }
                (Expected::Accepted, Observed::Accepted { network_id, .. }) => (network_id != own)
                    .then(|| Finding::OwnMisreported { peer: c.peer.clone(), reported: network_id.clone() }),
                (Expected::Accepted, Observed::Refused { why }) => {
                    Some(Finding::OwnRefused { peer: c.peer.clone(), why: why.clone() })
                }
                (Expected::Refused, Observed::Accepted { .. }) => Some(Finding::ForeignAccepted {
                    peer: c.peer.clone(),
                    network: c.network.clone(),
                    network_id: c.network_id.clone(),
                }),
                (Expected::Refused, Observed::Refused { .. }) => None,
            };
            findings.extend(finding);
        }
        findings
    }

    /// The digest of the content (everything but `digest`).
    pub fn compute_digest(&self) -> String {
        let mut unsigned = self.clone();
        unsigned.digest = String::new();
        let mut bytes = format!("{FORMAT}\n").into_bytes();
        bytes.extend(serde_json::to_vec(&unsigned).expect("evidence serializes"));
        keccak256(&bytes).to_string()
    }

    /// The file's bytes (pretty JSON and a newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("evidence serializes");
        bytes.push(b'\n');
        bytes
    }

    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> Result<(), IsolationError> {
        Ok(write_atomic(path, &self.to_bytes())?)
    }

    /// Reads an evidence file and refuses one that is not well formed, whose findings are not its
    /// checks' or whose content no longer has its digest.
    pub fn load(path: &Path) -> Result<IsolationEvidence, IsolationError> {
        let bytes = read_capped(path, Links::Follow, MAX_FILE_BYTES, "an isolation evidence file")?;
        let invalid = |message: String| IsolationError::Invalid { file: path.into(), message };
        let evidence: IsolationEvidence = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        if evidence.format != FORMAT {
            return Err(invalid(format!("format is {:?}, not {FORMAT:?}", evidence.format)));
        }
        let computed = evidence.compute_digest();
        if computed != evidence.digest {
            return Err(IsolationError::Edited { file: path.into(), recorded: evidence.digest, computed });
        }
        if evidence.findings != evidence.derive_findings() || evidence.proven != evidence.findings.is_empty() {
            return Err(invalid("its findings or verdict are not those of its checks".into()));
        }
        Ok(evidence)
    }

    /// The peers checked, in order, each once.
    pub fn peers(&self) -> Vec<&str> {
        let mut peers: Vec<&str> = Vec::new();
        for c in &self.checks {
            if peers.last() != Some(&c.peer.as_str()) {
                peers.push(&c.peer);
            }
        }
        peers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(id: [u8; 16]) -> Subject {
        Subject {
            profile: "p.toml".into(),
            profile_digest: "00".repeat(32),
            network: "private".into(),
            p2p_network_id: hex::encode(id),
        }
    }

    const OWN: [u8; 16] = *b"dualrun-private!";

    fn evidence(own: [u8; 16], observed: &[(&str, Observed)]) -> IsolationEvidence {
        let foreign = ForeignNetwork::monero();
        let checks = observed
            .iter()
            .map(|(network, o)| {
                let (id, expected) = if *network == "own" {
                    (hex::encode(own), Expected::Accepted)
                } else {
                    (foreign.iter().find(|f| f.name == *network).unwrap().network_id.clone(), Expected::Refused)
                };
                Check {
                    peer: "127.0.0.1:1".into(),
                    network: (*network).into(),
                    network_id: id,
                    expected,
                    observed: o.clone(),
                }
            })
            .collect();
        let mut e = IsolationEvidence {
            format: FORMAT.into(),
            subject: subject(own),
            checked_at: "20261206T000000Z".into(),
            timeout_ms: 1000,
            foreign,
            checks,
            findings: vec![],
            proven: false,
            digest: String::new(),
        };
        e.findings = e.derive_findings();
        e.proven = e.findings.is_empty();
        e.digest = e.compute_digest();
        e
    }

    fn accepted(id: [u8; 16]) -> Observed {
        Observed::Accepted { network_id: hex::encode(id), height: 1, top_id: "00".repeat(32), top_version: 1 }
    }

    fn refused() -> Observed {
        Observed::Refused { why: "closed".into() }
    }

    #[test]
    fn proven_only_when_own_accepted_and_every_foreign_refused() {
        let all_good =
            [("own", accepted(OWN)), ("mainnet", refused()), ("testnet", refused()), ("stagenet", refused())];
        assert!(evidence(OWN, &all_good).proven);

        let mut through = all_good.clone();
        through[2] = ("testnet", accepted(TESTNET_NETWORK_ID));
        let e = evidence(OWN, &through);
        assert!(!e.proven);
        assert_eq!(
            e.findings,
            vec![Finding::ForeignAccepted {
                peer: "127.0.0.1:1".into(),
                network: "testnet".into(),
                network_id: hex::encode(TESTNET_NETWORK_ID)
            }]
        );
        assert_eq!(
            e.findings[0].to_string(),
            "127.0.0.1:1 accepted a peer of testnet (network id 1230f171610441611731008216a1a111)"
        );

        let mut own_refused = all_good.clone();
        own_refused[0] = ("own", refused());
        assert!(matches!(evidence(OWN, &own_refused).findings[..], [Finding::OwnRefused { .. }]));

        let mut misreported = all_good.clone();
        misreported[0] = ("own", accepted(MAINNET_NETWORK_ID));
        assert!(matches!(evidence(OWN, &misreported).findings[..], [Finding::OwnMisreported { .. }]));

        let mut silent = all_good;
        silent[3] = ("stagenet", Observed::NoAnswer { error: "timeout".into() });
        let e = evidence(OWN, &silent);
        assert!(!e.proven && e.findings.iter().all(Finding::is_undetermined));
    }

    /// A profile on mainnet's id is caught before any peer is asked.
    #[test]
    fn a_public_id_is_never_isolated() {
        let e = evidence(MAINNET_NETWORK_ID, &[("own", accepted(MAINNET_NETWORK_ID))]);
        assert_eq!(e.findings, vec![Finding::ProfileIdIsForeign { network: "mainnet".into() }]);
        assert!(!e.proven);
    }

    /// The file round-trips; an edited value, an edited verdict or an unknown field is refused.
    #[test]
    fn edits_show() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isolation.json");
        let e = evidence(OWN, &[("own", accepted(OWN)), ("mainnet", accepted(MAINNET_NETWORK_ID))]);
        e.write(&path).unwrap();
        assert_eq!(IsolationEvidence::load(&path).unwrap(), e);

        let text = std::fs::read_to_string(&path).unwrap();
        let edit = |from: &str, to: &str| {
            assert!(text.contains(from), "{from}");
            std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
            IsolationEvidence::load(&path).unwrap_err()
        };
        assert!(matches!(edit("\"proven\": false", "\"proven\": true"), IsolationError::Edited { .. }));
        assert!(matches!(edit("\"height\": 1", "\"height\": 2"), IsolationError::Edited { .. }));
        let e = edit("\"proven\"", "\"extra\": 1, \"proven\"");
        assert!(e.to_string().contains("unknown field `extra`"), "{e}");

        // A consistent forgery of the digest is still caught when the verdict is not the checks'.
        let mut forged = IsolationEvidence::load(&{
            std::fs::write(&path, &text).unwrap();
            path.clone()
        })
        .unwrap();
        forged.findings.clear();
        forged.proven = true;
        forged.digest = forged.compute_digest();
        forged.write(&path).unwrap();
        let e = IsolationEvidence::load(&path).unwrap_err();
        assert!(e.to_string().contains("not those of its checks"), "{e}");
    }

    /// Peers that cannot be reached or resolved are findings of their own, not errors of the whole check.
    #[test]
    fn unreachable_peers_are_undetermined() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
        let request = IsolationRequest {
            subject: subject(OWN),
            own_id: OWN,
            peers: vec![closed.clone(), "not-a-host-name.invalid:1".into()],
            foreign: ForeignNetwork::monero()
                .into_iter()
                .zip([MAINNET_NETWORK_ID, TESTNET_NETWORK_ID, STAGENET_NETWORK_ID])
                .collect(),
            timeout: Duration::from_secs(2),
            checked_at: "20261206T000000Z".into(),
        };
        let e = check(&request);
        assert_eq!(e.checks.len(), 8);
        assert_eq!(e.peers(), vec![closed.as_str(), "not-a-host-name.invalid:1"]);
        assert_eq!(e.findings.len(), 8);
        assert!(e.findings.iter().all(Finding::is_undetermined));
        assert!(!e.proven);
    }
}
