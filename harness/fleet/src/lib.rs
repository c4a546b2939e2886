//! A fleet of nodes watched together (`dualrun fleet`): every node's main chain is followed over RPC —
//! headers and ids, no verifier ([`poll`]) — into a per-height view across nodes whose rules are pure
//! functions ([`view`]). [`watch::Watch`] turns each poll into events and findings ([`finding`]):
//! `fleet.split` (two reachable nodes hold different blocks more than the split depth below both tips:
//! a persistent fork or partition, with its heights and nodes), `fleet.behind`, `fleet.unreachable` and
//! each node's `fleet.reorg`. One event stream feeds every reader: the fleet run directory (`dualrun_rundir::fleet`, written by [`record`]),
//! the metrics ([`metrics`]) and the terminal. [`run::watch`] drives it live.

pub mod config;
pub mod finding;
pub mod metrics;
pub mod poll;
pub mod record;
pub mod run;
pub mod view;
pub mod watch;

pub use config::{FleetNode, FleetSettings};
pub use dualrun_rundir::fleet::{FleetManifest, FleetRun, FleetRunWriter, FleetSummary};
pub use finding::{Episode, Finding, FindingRecord};
pub use record::summary;
pub use watch::{Fanout, FleetEvent, FleetObserver, Watch};
