//! The dual-run pipeline, in named stages joined by typed messages:
//!
//! ```text
//!   source ──SourceBlock batches──▶ prepare (all cores: parse, ids, stateless verifier work)
//!                                      │ PreparedBlock, any order
//!                                      ▼
//!                                   assemble (height order; each block gets its env)
//!                                      │ Item batches
//!            ┌─────────────────────────┼──────────────────────────┐
//!            ▼                         ▼                          │
//!   verify: legacy thread      verify: candidate thread           │
//!            │ Answers                 │ Answers                  ▼
//!            └────────────────────────▶ compare (mode table) ──Judged──▶ sink (records, CSV, …)
//! ```
//!
//! - [`source`]: where blocks come from ([`BlockSource`]; [`LmdbRange`] reads a node's database);
//! - [`context`]: the chain context every block is judged in ([`NowMode`], [`context_at`]);
//! - [`prepare`], [`assemble`], [`verify`], [`compare`]: the stages, one module each;
//! - [`Sink`]: what the caller does with each judged block — the replay writes records and
//!   checkpoints, `leader check` writes CSV rows.
//!
//! Channels are bounded (a few batches), so memory does not grow with the chain. The legacy and the
//! candidate each see the blocks in height order on one thread (a legacy may hold state); stateless
//! work runs ahead on all cores. An interrupt is seen between blocks: the source stops reading, the
//! verifiers stop before their next block and the comparator after the last block both answered, so the
//! caller checkpoints what was judged and ends resumable within a block's time.

pub mod assemble;
pub mod compare;
pub mod context;
pub mod prepare;
pub mod source;
pub mod verify;

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};

use dualrun_core::{Mode, ReasonMap, Verifier};
use dualrun_network::{ChainContext, Network};

pub use assemble::{Batch, Item};
pub use compare::Judged;
pub use context::{block_id_of, context_at, context_with, ContextError, NowMode, NowModeParseError};
pub use source::{BlockSource, LmdbRange, SourceBlock};
pub use verify::{Answer, VerifierStop};

/// Blocks per batch between stages.
pub const BATCH: usize = 256;

/// Verifiers that are not the ones their mode runs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifiersError {
    /// A verifier the mode does not run was given, or one it runs is missing.
    #[error("mode {mode} needs {}", verifiers_needed(.mode))]
    ModeMismatch {
        /// The mode.
        mode: Mode,
    },
}

fn verifiers_needed(mode: &Mode) -> &'static str {
    match mode {
        Mode::Legacy => "a legacy verifier and no candidate",
        Mode::Only => "a candidate and no legacy verifier",
        _ => "both verifiers",
    }
}

/// The two verifiers of a mode: exactly those the mode runs.
pub struct Verifiers {
    mode: Mode,
    legacy: Option<Box<dyn Verifier>>,
    candidate: Option<Box<dyn Verifier>>,
}

impl Verifiers {
    /// The verifiers for `mode`; refuses a verifier the mode does not run, or a missing one it does.
    pub fn new(
        mode: Mode,
        legacy: Option<Box<dyn Verifier>>,
        candidate: Option<Box<dyn Verifier>>,
    ) -> Result<Verifiers, VerifiersError> {
        if mode.runs_legacy() != legacy.is_some() || mode.runs_candidate() != candidate.is_some() {
            return Err(VerifiersError::ModeMismatch { mode });
        }
        Ok(Verifiers { mode, legacy, candidate })
    }

    /// The mode these verifiers are for.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The legacy verifier, when the mode runs it.
    pub fn legacy(&self) -> Option<&dyn Verifier> {
        self.legacy.as_deref()
    }

    /// The candidate, when the mode runs it.
    pub fn candidate(&self) -> Option<&dyn Verifier> {
        self.candidate.as_deref()
    }

    /// Hands each verifier the state a checkpoint saved for its role (`legacy`, `candidate`).
    pub fn restore(&mut self, states: &std::collections::BTreeMap<String, dualrun_core::VerifierState>) {
        for (role, v) in [("legacy", &mut self.legacy), ("candidate", &mut self.candidate)] {
            if let (Some(v), Some(state)) = (v.as_mut(), states.get(role)) {
                v.restore(state);
            }
        }
    }
}

/// What a caller does with the judged blocks, in height order.
pub trait Sink {
    /// Why the sink could not take a block (a full disk…); it stops the pipeline.
    type Error;

    /// One judged block.
    fn judged(&mut self, block: Judged<'_>) -> Result<(), Self::Error>;

    /// A batch is done: every block below `next_height` has been handed to [`Sink::judged`].
    fn batch_done(&mut self, next_height: u64) -> Result<(), Self::Error> {
        let _ = next_height;
        Ok(())
    }
}

/// How the pipeline ended without a sink error.
#[derive(Debug)]
pub struct Ended<E> {
    /// The first height not handed to the sink (the start height if none was).
    pub next_height: u64,
    /// The source stopped at an interrupt.
    pub interrupted: bool,
    /// The source failed; every block read before the failure was judged.
    pub source_error: Option<E>,
    /// A verifier stopped the run (it is also `interrupted`).
    pub verifier_stop: Option<VerifierStop>,
}

/// What a run of the pipeline needs besides the blocks.
pub struct Pipeline {
    /// The network (the env's network fields).
    pub network: Network,
    /// The first height whose blocks need a leader record (the env's `activation_height`).
    pub activation_height: u64,
    /// Where `now` comes from.
    pub now: NowMode,
    /// Legacy reasons → codes, for telling a `reason` divergence from agreement.
    pub reasons: ReasonMap,
    /// Threads for the prepare stage.
    pub threads: usize,
    /// A noise run: the share of blocks each verifier judges twice (none: every block once).
    pub noise: Option<dualrun_core::NoiseRate>,
    /// Set to stop reading; what was read is finished.
    pub interrupt: Arc<AtomicBool>,
}

impl Pipeline {
    /// Runs every block of `source` through the stages into `sink`. `ctx` is the chain context of the
    /// source's first block (see [`context_at`]).
    pub fn run<S: BlockSource, K: Sink>(
        &self,
        mut source: S,
        ctx: ChainContext,
        verifiers: Verifiers,
        sink: &mut K,
    ) -> Result<Ended<S::Error>, K::Error> {
        let start = ctx.next_height();
        let Verifiers { mode, legacy, candidate } = verifiers;
        let want_fields = legacy.iter().chain(candidate.iter()).any(|v| v.wants_fields());
        let preparers = prepare::Preparers {
            legacy: legacy.as_ref().and_then(|v| v.stateless()),
            candidate: candidate.as_ref().and_then(|v| v.stateless()),
            want_fields,
        };
        let threads = self.threads.max(1);
        std::thread::scope(|s| {
            let (raw_tx, raw_rx) = sync_channel::<(u64, Vec<SourceBlock>)>(threads * 2);
            let (prepared_tx, prepared_rx) = sync_channel(threads * 2);
            let raw_rx = Arc::new(Mutex::new(raw_rx));
            for w in 0..threads {
                let (rx, tx, p) = (raw_rx.clone(), prepared_tx.clone(), preparers.clone());
                spawn(s, format!("dualrun-prepare-{w}"), move || prepare::stage(&p, &rx, &tx));
            }
            // Only the workers hold these ends: when they are gone, the reader's sends fail and it ends.
            drop((raw_rx, prepared_tx));
            let legacy_stage = legacy.map(|v| verify::spawn(s, "legacy", v, self.interrupt.clone()));
            let candidate_stage = candidate.map(|v| verify::spawn(s, "candidate", v, self.interrupt.clone()));
            let (legacy_in, legacy_out, legacy_thread) = split(legacy_stage);
            let (candidate_in, candidate_out, candidate_thread) = split(candidate_stage);
            let (compare_tx, compare_rx) = sync_channel(4);
            let assembler = assemble::Assembler {
                network: self.network.clone(),
                activation_height: self.activation_height,
                now: self.now,
                ctx,
                noise: self.noise,
                legacy: legacy_in,
                candidate: candidate_in,
                compare: compare_tx,
            };
            spawn(s, "dualrun-assembler".into(), move || assembler.stage(prepared_rx));
            let interrupt = self.interrupt.clone();
            let reader = spawn(s, "dualrun-reader".into(), move || read(&mut source, &interrupt, raw_tx));
            let comparer = compare::Comparer {
                interrupt: &self.interrupt,
                mode,
                reasons: &self.reasons,
                legacy: legacy_out,
                candidate: candidate_out,
            };
            let next_height = comparer.stage(compare_rx, start, sink)?;
            let (stopped, source_error) = match reader.join().expect("the reader does not panic") {
                Ok(stopped) => (stopped, None),
                Err(e) => (false, Some(e)),
            };
            // The comparator may stop at an interrupt before the reader sees it.
            let interrupted = stopped || self.interrupt.load(Ordering::Relaxed);
            let verifier_stop = [legacy_thread, candidate_thread]
                .into_iter()
                .flatten()
                .find_map(|t| t.join().expect("a verifier thread catches panics"));
            Ok(Ended { next_height, interrupted, source_error, verifier_stop })
        })
    }
}

/// The source stage: reads batches, numbers them and hands them to the prepare pool. `Ok(true)` when it
/// stopped at an interrupt.
fn read<S: BlockSource>(
    source: &mut S,
    interrupt: &AtomicBool,
    tx: std::sync::mpsc::SyncSender<(u64, Vec<SourceBlock>)>,
) -> Result<bool, S::Error> {
    let mut index = 0u64;
    let mut interrupted = false;
    source.read(BATCH, &mut |blocks| {
        if interrupt.load(Ordering::Relaxed) {
            interrupted = true;
            return ControlFlow::Break(());
        }
        let sent = tx.send((index, blocks));
        index += 1;
        if sent.is_err() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(interrupted)
}

/// A verifier stage's ends, when the mode runs it.
type StageEnds<'scope> = (
    Option<std::sync::mpsc::SyncSender<assemble::VerifierWork>>,
    Option<std::sync::mpsc::Receiver<Vec<Answer>>>,
    Option<std::thread::ScopedJoinHandle<'scope, Option<VerifierStop>>>,
);

fn split(stage: Option<verify::Stage<'_>>) -> StageEnds<'_> {
    match stage {
        Some(verify::Stage { input, output, thread }) => (Some(input), Some(output), Some(thread)),
        None => (None, None, None),
    }
}

fn spawn<'scope, T: Send + 'scope>(
    s: &'scope std::thread::Scope<'scope, '_>,
    name: String,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    std::thread::Builder::new().name(name).spawn_scoped(s, f).expect("spawning a pipeline thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifiers_a_mode_does_not_run_are_refused() {
        let message = |mode| Verifiers::new(mode, None, None).err().expect("refused").to_string();
        assert_eq!(message(Mode::Legacy), "mode legacy needs a legacy verifier and no candidate");
        assert_eq!(message(Mode::Shadow), "mode shadow needs both verifiers");
        assert_eq!(message(Mode::Only), "mode only needs a candidate and no legacy verifier");
    }
}
