//! `leader forks`: the competing blocks a node keeps (`alt_blocks`) next to the main chain, judged under
//! protocol v1 in the context of their own parent, and fork choice applied to each set of siblings
//! (same height, same parent): one row for every alternative block and for the main-chain block of each
//! height that has alternatives, and a `fork.not_canonical` finding where the node's main chain holds a
//! block fork choice would not have picked. [`write`] writes the rows as `leader forks` prints them (CSV
//! or JSON lines, [`COLUMNS`]).

use std::collections::BTreeMap;
use std::io::Write;

use dualrun_chaindb::rows::{RowFormat, RowWriter};
use dualrun_chaindb::{ChainDb, ChainDbError};
use dualrun_format::Hash32;
use dualrun_leader::fork_choice::{self, Proposal};
use dualrun_leader::validator::{self, ChainContext};
use dualrun_leader::Profile;
use dualrun_network::Network;
use dualrun_pipeline::{context_at, ContextError};

/// One row of `leader forks`; the field order is the header ([`COLUMNS`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ForkRow {
    /// The height.
    pub height: u64,
    /// The block's computed id.
    pub block_id: Hash32,
    /// Its parent, as its header names it.
    pub parent_id: Hash32,
    /// Whether it is the node's main-chain block at that height.
    pub main_chain: bool,
    /// `accept` or `reject` under protocol v1 in its parent's context.
    pub verdict: &'static str,
    /// The reason code of a rejection.
    pub reason: String,
    /// Its failover rank, when it is valid.
    pub rank: Option<usize>,
    /// Whether fork choice picks it among its siblings.
    pub canonical: bool,
    /// Empty, or the code of the finding the row is (`fork.not_canonical`: the block's own row repeated,
    /// where the main chain holds it and fork choice picks another).
    pub finding: &'static str,
}

/// Why the forks could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ForksError {
    /// The chain could not be read.
    #[error(transparent)]
    Chain(#[from] ChainDbError),
    /// Another chain than the profile's, or a parent's context could not be read.
    #[error(transparent)]
    Context(#[from] ContextError),
}

/// A block competing at a height.
struct Sibling {
    blob: Vec<u8>,
    main_chain: bool,
}

/// An alternative block, parsed: its id, parent and timestamp.
struct Alt {
    height: u64,
    blob: Vec<u8>,
    parent: Hash32,
    timestamp: u64,
}

/// Lists the forks (see the module docs), siblings ordered main chain first, then by id.
pub fn forks(db: &ChainDb, profile: &Profile) -> Result<Vec<ForkRow>, ForksError> {
    let network = profile.network();
    context_at(db, &network, 0)?; // the genesis check
    let txn = db.read_txn()?;
    let tip = db.tip_height(&txn)?;
    let mut alts: BTreeMap<Hash32, Alt> = BTreeMap::new();
    let mut unparsed = Vec::new();
    for a in db.alt_blocks(&txn)? {
        match dualrun_format::Block::parse(a.blob).ok().and_then(|b| Some((b.hashes().ok()?.block_id, b.header))) {
            Some((id, header)) => {
                let alt = Alt {
                    height: a.height,
                    blob: a.blob.to_vec(),
                    parent: header.prev_id,
                    timestamp: header.timestamp,
                };
                alts.insert(id, alt);
            }
            None => unparsed.push((a.height, a.stored_id)),
        }
    }
    let main_block = |h: u64| -> Result<Option<(Hash32, Hash32, Vec<u8>)>, ForksError> {
        if h > tip {
            return Ok(None);
        }
        let raw = db.blocks(&txn, h, h)?.next().expect("the range holds the height")?;
        let parsed = dualrun_format::Block::parse(raw.blob)
            .ok()
            .and_then(|b| Some((b.hashes().ok()?.block_id, b.header.prev_id)));
        Ok(Some(
            parsed.map_or((raw.info.hash, Hash32::ZERO, raw.blob.to_vec()), |(id, prev)| (id, prev, raw.blob.to_vec())),
        ))
    };
    // Siblings: (height, parent) -> blocks.
    let mut groups: BTreeMap<(u64, Hash32), Vec<Sibling>> = BTreeMap::new();
    for alt in alts.values() {
        groups.entry((alt.height, alt.parent)).or_default().push(Sibling { blob: alt.blob.clone(), main_chain: false });
    }
    let keys: Vec<(u64, Hash32)> = groups.keys().copied().collect();
    for (h, parent) in keys {
        if let Some((_, prev, blob)) = main_block(h)? {
            if prev == parent {
                groups.get_mut(&(h, parent)).expect("a key").insert(0, Sibling { blob, main_chain: true });
            }
        }
    }
    let mut rows = Vec::new();
    for ((height, parent), siblings) in &groups {
        let ctx = context_of(db, &network, &alts, *parent, *height, &main_block, 0)?;
        let judged: Vec<_> = siblings
            .iter()
            .map(|s| {
                let prepared = validator::prepare(profile, *height, &s.blob);
                let judgement =
                    ctx.as_ref().map(|c| validator::judge(profile, c, &prepared, prepared.timestamp().unwrap_or(0)));
                (prepared, judgement)
            })
            .collect();
        let proposals: Vec<Proposal> = judged
            .iter()
            .map(|(p, j)| {
                match j {
                    Some(j) => fork_choice::proposal(profile, p, j),
                    None => None,
                }
                .unwrap_or(Proposal { block_id: p.block_id().unwrap_or(Hash32::ZERO), rank: None })
            })
            .collect();
        let pick = fork_choice::canonical(&proposals);
        for (i, ((_, judgement), s)) in judged.iter().zip(siblings).enumerate() {
            let (verdict, reason) = match judgement {
                Some(j) => match j.verdict.reason() {
                    None => ("accept", String::new()),
                    Some(r) => ("reject", r.as_str().to_owned()),
                },
                None => ("reject", "block.prev_mismatch".to_owned()),
            };
            rows.push(ForkRow {
                height: *height,
                block_id: proposals[i].block_id,
                parent_id: *parent,
                main_chain: s.main_chain,
                verdict,
                reason,
                rank: proposals[i].rank,
                canonical: pick == Some(i),
                finding: "",
            });
        }
        if let Some(main) = siblings.iter().position(|s| s.main_chain).filter(|&m| pick.is_some_and(|p| p != m)) {
            let mut finding = rows[rows.len() - siblings.len() + main].clone();
            finding.finding = "fork.not_canonical";
            rows.push(finding);
        }
    }
    for (height, stored_id) in unparsed {
        let reason = "block.malformed".to_owned();
        let row = ForkRow {
            height,
            block_id: stored_id,
            parent_id: Hash32::ZERO,
            main_chain: false,
            verdict: "reject",
            reason,
            rank: None,
            canonical: false,
            finding: "",
        };
        rows.push(row);
    }
    Ok(rows)
}

/// The columns of `leader forks`: [`ForkRow`]'s fields.
pub const COLUMNS: [&str; 9] =
    ["height", "block_id", "parent_id", "main_chain", "verdict", "reason", "rank", "canonical", "finding"];

/// Writes `rows` to `out` in `format` (in CSV the header first, also when there is no row).
pub fn write(rows: &[ForkRow], format: RowFormat, out: impl Write) -> Result<(), csv::Error> {
    let mut w = RowWriter::new(format, &COLUMNS, out)?;
    rows.iter().try_for_each(|row| w.write(row))?;
    w.flush()
}

/// No row is a finding (`fork.not_canonical`).
pub fn no_findings(rows: &[ForkRow]) -> bool {
    rows.iter().all(|r| r.finding.is_empty())
}

type MainBlock<'a> = dyn Fn(u64) -> Result<Option<(Hash32, Hash32, Vec<u8>)>, ForksError> + 'a;

/// The chain context of a child of `parent` at `height`: the main chain's when the parent is the main
/// block at `height − 1`, else the context of the parent's own parent advanced past the parent (an
/// alternative branch), `None` when the parent is not known (or the branch is deeper than 60 blocks).
fn context_of(
    db: &ChainDb,
    network: &Network,
    alts: &BTreeMap<Hash32, Alt>,
    parent: Hash32,
    height: u64,
    main_block: &MainBlock<'_>,
    depth: usize,
) -> Result<Option<ChainContext>, ForksError> {
    if height == 0 || depth > 60 {
        return Ok(None);
    }
    if main_block(height - 1)?.is_some_and(|(id, _, _)| id == parent) {
        return Ok(Some(context_at(db, network, height)?));
    }
    let Some(alt) = alts.get(&parent) else { return Ok(None) };
    let Some(mut ctx) = context_of(db, network, alts, alt.parent, alt.height, main_block, depth + 1)? else {
        return Ok(None);
    };
    ctx.advance(parent, alt.timestamp);
    Ok(Some(ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(verdict: &'static str, reason: &str, rank: Option<usize>, finding: &'static str) -> ForkRow {
        ForkRow {
            height: 70,
            block_id: Hash32([1; 32]),
            parent_id: Hash32([2; 32]),
            main_chain: true,
            verdict,
            reason: reason.into(),
            rank,
            canonical: false,
            finding,
        }
    }

    /// The header even without rows; a row has the header's columns; an absent rank is an empty field; a
    /// finding row keeps the block's verdict and names the finding in its own column.
    #[test]
    fn rows_are_written_under_the_header() {
        let mut out = Vec::new();
        write(&[], RowFormat::Csv, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), COLUMNS.join(",") + "\n");

        let rows = [row("accept", "", Some(1), ""), row("accept", "", Some(1), "fork.not_canonical")];
        let mut out = Vec::new();
        write(&rows, RowFormat::Csv, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.split(',').count() == COLUMNS.len()), "{text}");
        let (one, two) = ("01".repeat(32), "02".repeat(32));
        assert_eq!(lines[1], format!("70,{one},{two},true,accept,,1,false,"));
        assert_eq!(lines[2], format!("70,{one},{two},true,accept,,1,false,fork.not_canonical"));
        assert!(no_findings(&rows[..1]) && !no_findings(&rows));
    }

    /// JSON lines: an object per row, keyed by the columns; nothing without rows.
    #[test]
    fn json_rows_have_the_columns() {
        let mut out = Vec::new();
        write(&[], RowFormat::Json, &mut out).unwrap();
        assert!(out.is_empty());
        write(&[row("reject", "leader.bad_signature", None, "")], RowFormat::Json, &mut out).unwrap();
        let row: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&out).unwrap();
        assert_eq!(row.keys().map(String::as_str).collect::<Vec<_>>(), COLUMNS);
        assert_eq!(
            (&row["verdict"], &row["reason"], &row["rank"]),
            (&"reject".into(), &"leader.bad_signature".into(), &serde_json::Value::Null)
        );
    }

    /// The sample chain keeps no competing blocks: no rows.
    #[test]
    fn the_sample_has_no_forks() {
        let (db, profile) = crate::sample();
        assert_eq!(forks(db, &profile).unwrap(), []);
    }
}
