//! The names of the files of a run directory.

/// Inputs, tool, completion and file digests.
pub const MANIFEST: &str = "manifest.json";
/// Every record, one JSON object per line.
pub const JSONL: &str = "divergences.jsonl";
/// Every record, one CSV line each.
pub const CSV: &str = "divergences.csv";
/// Counts, latencies, rate.
pub const SUMMARY: &str = "summary.json";
/// The state a resume continues from.
pub const CHECKPOINT: &str = "checkpoint.json";
/// The computed id of every judged block, 32 bytes each in height order (live runs: the chain digest of
/// a range that grows is made from it when the run stops).
pub const IDS: &str = "ids.bin";
/// Reorganizations a live run saw, one JSON object per line: the fork height and the judged blocks
/// orphaned (their records stay in the record files, marked orphaned by this file).
pub const REORGS: &str = "reorgs.jsonl";
/// The run's log.
pub const LOG: &str = "run.log";
/// The files whose digests a finished manifest lists, in this order.
pub const DIGESTED: [&str; 3] = [JSONL, CSV, SUMMARY];
