//! What a replay is made from ([`Inputs`]), and the chain digest of a height range read from the chain
//! (what a resume checks the judged blocks against, and a merge names the whole range by).

use dualrun_chaindb::{ChainDb, ChainDbError, ChainDigest};
use dualrun_core::Verifier;
use dualrun_format::{FileError, Hash32};
use dualrun_pipeline::{block_id_of, Verifiers};
use dualrun_rundir::{ChainInputs, EnvInputs, Inputs, ProfileInputs};

use crate::config::ReplayConfig;

/// The chain digest of `from..=last` (computed ids). Ids are computed window by window (64 Ki blocks,
/// so memory stays flat), each window split over `threads` threads with their own read transactions,
/// and pushed in height order.
pub fn chain_digest(db: &ChainDb, from: u64, last: u64, threads: usize) -> Result<ChainDigest, ChainDbError> {
    const WINDOW: u64 = 1 << 16;
    let threads = threads.max(1) as u64;
    let mut digest = ChainDigest::new();
    let mut window_start = from;
    while window_start <= last {
        let window_end = (window_start + WINDOW - 1).min(last);
        let span = (window_end - window_start + 1).div_ceil(threads);
        let parts: Vec<Result<Vec<Hash32>, ChainDbError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|i| (window_start + i * span, (window_start + (i + 1) * span - 1).min(window_end)))
                .filter(|(a, b)| a <= b)
                .map(|(a, b)| {
                    s.spawn(move || -> Result<Vec<Hash32>, ChainDbError> {
                        let txn = db.read_txn()?;
                        let ids = db.blocks(&txn, a, b)?.map(|raw| Ok(block_id_of(&raw?))).collect();
                        ids
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("digest thread does not panic")).collect()
        });
        for part in parts {
            for id in part? {
                digest.push(&id);
            }
        }
        window_start = window_end + 1;
    }
    Ok(digest)
}

/// The inputs of a replay of `cfg.from..=last` with these verifiers. The chain is named by its canonical
/// directory (and, once the run is complete, its chain digest, computed as the blocks are judged), so
/// `--chain ./x`, `--chain x` or a symlink to it are one input.
pub fn inputs(db: &ChainDb, cfg: &ReplayConfig, last: u64, verifiers: &Verifiers) -> Result<Inputs, FileError> {
    let dir = std::fs::canonicalize(db.dir()).map_err(FileError::at(db.dir()))?;
    let chain = ChainInputs {
        path: dir.display().to_string(),
        schema_version: db.schema().version(),
        genesis_id: cfg.profile.genesis_id,
        from: cfg.from,
        to: last,
        blocks: last - cfg.from + 1,
        chain_digest: Hash32::default(),
        live: false,
    };
    Ok(run_inputs(cfg, chain, verifiers))
}

/// The inputs of a run reading `chain`: the profile, mode, verifiers, env and settings of `cfg` (the part
/// every block source shares; `replay` names a database range, `follow` a daemon).
pub fn run_inputs(cfg: &ReplayConfig, chain: ChainInputs, verifiers: &Verifiers) -> Inputs {
    let identity = |v: Option<&dyn Verifier>| v.map(|v| v.identity());
    Inputs {
        chain,
        profile: ProfileInputs {
            path: cfg.profile.source.clone(),
            digest: cfg.profile.digest,
            network: cfg.profile.name.clone(),
        },
        mode: verifiers.mode(),
        legacy: identity(verifiers.legacy()),
        candidate: identity(verifiers.candidate()),
        env: EnvInputs { now: cfg.now.describe() },
        settings: cfg.settings.clone(),
        shard: cfg.shard,
    }
}
