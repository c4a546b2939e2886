//! The leader tools above the pipeline: what `dualrun leader …` does besides parsing and printing.
//!
//! - [`check`]: every block of a chain judged under protocol v1 — the built-in verifier through the
//!   pipeline in ONLY mode — one row per block;
//! - [`forks`]: the competing blocks a node keeps, each judged in its parent's context, and fork choice
//!   among each height's siblings;
//! - [`finality`]: a chain's main-chain blocks against the validators' finality votes, as rows, and the
//!   equivocations with both votes;
//! - [`produce`]: what `leader produce` takes (its `--fault` and `--compete`) and writes beside the
//!   daemon (the committee's votes, the expected verdicts).
//!
//! Rows are printed as CSV under their header or as JSON lines keyed by the same columns
//! ([`dualrun_chaindb::rows`]); a `verdict` column means accept or reject, and a finding is named in a
//! `finding` column of its own.

pub mod check;
pub mod finality;
pub mod forks;
pub mod produce;

/// `items` as JSON lines, each ended by a newline.
fn json_lines<T: serde::Serialize>(items: &[T]) -> Vec<u8> {
    let mut out = Vec::new();
    for item in items {
        serde_json::to_writer(&mut out, item).expect("plain data serializes into memory");
        out.push(b'\n');
    }
    out
}

/// The bundled sample chain, opened once for every test (LMDB opens a database once in a process), and
/// its profile.
#[cfg(test)]
fn sample() -> (&'static dualrun_chaindb::ChainDb, dualrun_leader::Profile) {
    static DB: std::sync::OnceLock<dualrun_chaindb::ChainDb> = std::sync::OnceLock::new();
    let dir = dualrun_testkit::sample_dir();
    let db = DB.get_or_init(|| dualrun_chaindb::ChainDb::open(&dir).expect("the sample chain"));
    (db, dualrun_leader::Profile::load(&dir.join("profile.toml")).expect("the sample profile"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_lines_end_each_item() {
        assert_eq!(super::json_lines(&[1, 2]), b"1\n2\n");
        assert_eq!(super::json_lines::<u8>(&[]), b"");
    }
}
