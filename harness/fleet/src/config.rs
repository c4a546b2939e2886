//! What a fleet watch is given: the nodes (`NAME=URL`) and the thresholds of its findings (the types
//! live with the fleet run directory's, in `dualrun_rundir::fleet::settings`).

pub use dualrun_rundir::fleet::settings::{FleetNode, FleetSettings, NodeSpecError, SettingsError};
