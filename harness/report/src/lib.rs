//! Auditor reports of dualrun runs, read through `dualrun-rundir`:
//!
//! - [`model`]: what a report shows, gathered from run directories and a ledger — problems included,
//!   never hidden;
//! - [`charts`]: the charts, as inline SVG drawn with `plotters`;
//! - [`render`]: the self-contained HTML page and the Markdown summary, from `minijinja` templates;
//! - [`output`]: where a report goes (each run once; inside a run directory only the format's names) and
//!   writing it;
//! - [`fleet`]: the report of a fleet run (`dualrun fleet`): nodes, findings, the nodes × heights
//!   timeline with the heights where nodes diverged;
//! - [`attest`]: `attestation.dsse.json`, an in-toto Statement v1 over every file of a run directory in a
//!   DSSE envelope signed with Ed25519, and its verification.

pub mod attest;
mod charts;
pub mod fleet;
pub mod model;
pub mod output;
pub mod render;

pub use model::Report;
