//! The verify stage: one thread per verifier, blocks in height order; a panic in a verifier becomes
//! a `panic` error for that block, and each answer carries how long it took.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::Scope;
use std::time::{Duration, Instant};

use dualrun_core::{BlockInput, ErrorKind, ReplayEnv, Verifier, VerifierError, VerifierOutcome};

use crate::assemble::VerifierWork;
use crate::prepare::Prep;

/// One verifier's answer for one block.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its verdict or error.
    pub outcome: VerifierOutcome,
    /// How long `verify` took.
    pub elapsed: Duration,
}

/// The input and output channels of a verifier thread.
pub(crate) type Stage = (SyncSender<VerifierWork>, Receiver<Vec<Answer>>);

pub(crate) fn spawn<'scope>(
    s: &'scope Scope<'scope, '_>,
    role: &str,
    v: Box<dyn Verifier>,
    interrupt: Arc<AtomicBool>,
) -> Stage {
    let (in_tx, in_rx) = sync_channel::<VerifierWork>(2);
    let (out_tx, out_rx) = sync_channel::<Vec<Answer>>(2);
    crate::spawn(s, format!("dualrun-{role}"), move || run(v, in_rx, out_tx, &interrupt));
    (in_tx, out_rx)
}

pub(crate) fn split(stage: Option<Stage>) -> (Option<SyncSender<VerifierWork>>, Option<Receiver<Vec<Answer>>>) {
    stage.map_or((None, None), |(a, b)| (Some(a), Some(b)))
}

/// Answers batch after batch. At an interrupt it stops between blocks and sends nothing more: the
/// comparator ends at the last whole batch, and a resume judges the rest.
fn run(mut v: Box<dyn Verifier>, rx: Receiver<VerifierWork>, tx: SyncSender<Vec<Answer>>, interrupt: &AtomicBool) {
    for (batch, preps) in rx {
        let mut answers = Vec::with_capacity(batch.len());
        for (item, prep) in batch.iter().zip(preps) {
            if interrupt.load(Ordering::Relaxed) {
                return;
            }
            answers.push(guarded(v.as_mut(), &item.input, prep, &item.env));
        }
        if tx.send(answers).is_err() {
            return;
        }
    }
}

/// Runs `verify` and turns a panic into an error outcome.
fn guarded(v: &mut dyn Verifier, input: &BlockInput, prep: Prep, env: &ReplayEnv) -> Answer {
    let t = Instant::now();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| v.verify(input, prep, env))).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        VerifierOutcome::Error(VerifierError::new(ErrorKind::Panic, msg))
    });
    Answer { outcome, elapsed: t.elapsed() }
}
