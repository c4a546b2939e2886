//! The verify stage: one thread per verifier, blocks in height order; a panic in a verifier becomes
//! a `panic` error for that block, and each answer carries how long it took (the first call's time) and,
//! for a block a noise run picked, the verifier's second answer. A verifier that must stop
//! the run ([`Verifier::stop_reason`]) ends its thread with a [`VerifierStop`] and sets the interrupt,
//! so the run ends resumable before that block.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use dualrun_core::{BlockInput, ErrorKind, ReplayEnv, Verifier, VerifierError, VerifierOutcome, VerifierState};

use crate::assemble::VerifierWork;
use crate::prepare::Prep;

/// One verifier's answer for one block.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its verdict or error.
    pub outcome: VerifierOutcome,
    /// How long `verify` took (the verifier's own measure, [`Verifier::took`], when it has one).
    pub elapsed: Duration,
    /// The verifier's state after it (see [`dualrun_core::VerifierState`]; empty for most verifiers).
    pub state: VerifierState,
    /// Its second answer, when the block was judged twice ([`Verifier::verify_again`]).
    pub again: Option<VerifierOutcome>,
}

/// A verifier stopped the run: it cannot be trusted to answer for the block at `height` or after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierStop {
    /// `legacy` or `candidate`.
    pub role: &'static str,
    /// The block it was verifying.
    pub height: u64,
    /// Its [`Verifier::stop_reason`].
    pub reason: String,
}

/// A verifier thread: its input and output channels, and how it ended.
pub(crate) struct Stage<'scope> {
    pub(crate) input: SyncSender<VerifierWork>,
    pub(crate) output: Receiver<Vec<Answer>>,
    pub(crate) thread: ScopedJoinHandle<'scope, Option<VerifierStop>>,
}

pub(crate) fn spawn<'scope>(
    s: &'scope Scope<'scope, '_>,
    role: &'static str,
    v: Box<dyn Verifier>,
    interrupt: Arc<AtomicBool>,
) -> Stage<'scope> {
    let (input, in_rx) = sync_channel::<VerifierWork>(2);
    let (out_tx, output) = sync_channel::<Vec<Answer>>(2);
    let thread = crate::spawn(s, format!("dualrun-{role}"), move || run(role, v, in_rx, out_tx, &interrupt));
    Stage { input, output, thread }
}

/// Answers batch after batch. At an interrupt it stops between blocks and sends nothing more: the
/// comparator ends at the last whole batch, and a resume judges the rest.
///
/// Each batch is announced to the verifier ([`Verifier::upcoming`]) as soon as it arrives, and before a
/// batch is answered the batches already waiting are announced too: a verifier that works ahead on its
/// own thread then never runs dry between batches.
fn run(
    role: &'static str,
    mut v: Box<dyn Verifier>,
    rx: Receiver<VerifierWork>,
    tx: SyncSender<Vec<Answer>>,
    interrupt: &AtomicBool,
) -> Option<VerifierStop> {
    let mut waiting = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match rx.recv() {
                Ok(work) => announce(v.as_mut(), work, &mut waiting),
                Err(_) => return None,
            }
        }
        while let Ok(work) = rx.try_recv() {
            announce(v.as_mut(), work, &mut waiting);
        }
        let (batch, preps) = waiting.pop_front()?;
        let mut answers = Vec::with_capacity(batch.len());
        for (item, prep) in batch.iter().zip(preps) {
            if interrupt.load(Ordering::Relaxed) {
                return None;
            }
            // After each call: a verifier that must stop the run stops it before this block.
            let stop = |v: &mut dyn Verifier| {
                let reason = v.stop_reason()?;
                interrupt.store(true, Ordering::SeqCst);
                Some(VerifierStop { role, height: item.input.height, reason })
            };
            let mut answer = guarded(v.as_mut(), &item.input, prep, &item.env);
            if let Some(stopped) = stop(v.as_mut()) {
                return Some(stopped);
            }
            if item.again {
                let again = catch_panic(|| v.verify_again(&item.input, &item.env));
                if let Some(stopped) = stop(v.as_mut()) {
                    return Some(stopped);
                }
                (answer.again, answer.state) = (Some(again), v.state());
            }
            answers.push(answer);
        }
        if tx.send(answers).is_err() {
            return None;
        }
    }
}

/// Tells the verifier a batch is coming ([`Verifier::upcoming`]: a block judged twice is listed twice)
/// and keeps it in `waiting`.
fn announce(v: &mut dyn Verifier, work: VerifierWork, waiting: &mut VecDeque<VerifierWork>) {
    let upcoming: Vec<_> = work
        .0
        .iter()
        .flat_map(|item| std::iter::repeat_n((&item.input, &item.env), if item.again { 2 } else { 1 }))
        .collect();
    // Only a hint: a verifier that panics here is still asked for each block, and answers there.
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| v.upcoming(&upcoming)));
    waiting.push_back(work);
}

/// Runs `verify` and turns a panic into an error outcome.
fn guarded(v: &mut dyn Verifier, input: &BlockInput, prep: Prep, env: &ReplayEnv) -> Answer {
    let t = Instant::now();
    let outcome = catch_panic(|| v.verify(input, prep, env));
    let elapsed = t.elapsed();
    Answer { outcome, elapsed: v.took().unwrap_or(elapsed), state: v.state(), again: None }
}

/// A verifier's call, a panic in it turned into a `panic` error.
fn catch_panic(call: impl FnOnce() -> VerifierOutcome) -> VerifierOutcome {
    std::panic::catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        VerifierOutcome::Error(VerifierError::new(ErrorKind::Panic, msg))
    })
}
