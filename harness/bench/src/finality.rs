//! `dualrun leader finality` on a signed synthetic chain with a committee of four validators voting for
//! every block (four votes a block: 400,000 for 100,000 blocks), next to the Ed25519 `verify_strict`
//! ceiling of the machine's cores measured in the same run.

use std::path::Path;

use anyhow::{Context, Result};
use dualrun_chaindb::{compare, ChainDb};
use dualrun_format::keccak256;
use dualrun_leader::finality::{sign_vote, Vote};

/// The bench profile with a fourth validator and `[leader.finality]` (2/3 from height 1): the votes are
/// the committee's, whoever signed the blocks.
fn committee(dir: &Path) -> Result<(std::path::PathBuf, Vec<(String, ed25519_dalek::SigningKey)>)> {
    let (mut text, mut keys) = crate::bench_profile();
    let fourth = ed25519_dalek::SigningKey::from_bytes(&keccak256(b"dualrun bench leader-4").0);
    text.push_str(&format!(
        "\n[[leader.validators]]\nid = \"leader-4\"\npublic_key = \"{}\"\n\n[leader.finality]\nquorum = \"2/3\"\nactivation_height = 1\n",
        dualrun_format::Hash32(fourth.verifying_key().to_bytes())
    ));
    keys.push(fourth);
    let path = dir.with_extension("finality-profile.toml");
    std::fs::write(&path, text)?;
    Ok((path, keys.into_iter().enumerate().map(|(i, k)| (format!("leader-{}", i + 1), k)).collect()))
}

/// The votes file: every validator votes for every block from height 1 (signed on every core).
fn votes(
    dir: &Path,
    network_id: &[u8; 16],
    keys: &[(String, ed25519_dalek::SigningKey)],
) -> Result<(std::path::PathBuf, u64)> {
    let path = dir.with_extension("votes.jsonl");
    let db = ChainDb::open(dir)?;
    let mut ids = Vec::new();
    compare::walk(
        &db,
        1,
        u64::MAX,
        |_| {},
        |b| {
            ids.push((b.height, b.block_id));
            Ok::<(), std::convert::Infallible>(())
        },
    )?;
    let count = (ids.len() * keys.len()) as u64;
    if path.exists() {
        return Ok((path, count));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = ids.len().div_ceil(threads).max(1);
    let parts: Vec<Vec<Vote>> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .flat_map(|&(h, id)| keys.iter().map(move |(v, k)| sign_vote(k, v, network_id, h, id)))
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("signing does not panic")).collect()
    });
    let mut text = String::with_capacity(count as usize * 240);
    for v in parts.iter().flatten() {
        text.push_str(&serde_json::to_string(v)?);
        text.push('\n');
    }
    std::fs::write(&path, text)?;
    Ok((path, count))
}

/// Runs the benchmark on a chain of `blocks`.
pub(crate) fn finality(blocks: u64, chain_dir: Option<std::path::PathBuf>) -> Result<()> {
    let (dir, _) = crate::signed_chain(blocks, chain_dir)?;
    let (profile, keys) = committee(&dir)?;
    let network_id = dualrun_leader::Profile::load(&profile)?.network_id;
    let (votes_file, count) = votes(&dir, &network_id, &keys)?;
    let args = [
        "leader",
        "finality",
        "--chain",
        dir.to_str().context("UTF-8 path")?,
        "--profile",
        profile.to_str().context("UTF-8 path")?,
        "--votes",
        votes_file.to_str().context("UTF-8 path")?,
    ];
    let run = crate::run_dualrun(&args)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let ceiling = crate::ed25519_rate() * cores;
    let together = crate::all_cores(crate::ed25519_rate);
    let rate = count as f64 / run.seconds;
    println!("leader finality benchmark: {blocks} blocks, {} validators, {count} votes, {cores} core(s)", keys.len());
    println!("  ed25519 verify_strict ceiling      {ceiling:>12.0} verifications/s ({cores} cores)");
    println!("  dualrun leader finality {:>8.2} s {rate:>12.0} votes/s   {}", run.seconds, run.memory());
    println!("  every core, measured together      {together:>12.0} verifications/s");
    println!("  leader finality / ceiling: {:.2} (goal >= 0.8)", rate / ceiling);
    println!("  leader finality / every core measured together: {:.2}", rate / together);
    Ok(())
}
