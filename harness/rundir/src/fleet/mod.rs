//! The fleet run directory (`dualrun fleet --out`), typed: what a watch is given ([`settings`]), what it
//! finds ([`finding`]) and its files ([`dir`]). `dualrun-fleet` writes it; the gate and the report read it
//! here, without the watch's network clients.

pub mod dir;
pub mod finding;
pub mod settings;

pub use dir::{FleetManifest, FleetRun, FleetRunError, FleetRunWriter, FleetSummary, NodeSummary, TimelineEntry};
pub use finding::{Episode, Finding, FindingRecord, Group, NodeTip, Orphan};
pub use settings::{FleetNode, FleetSettings, NodeSpecError, SettingsError};
