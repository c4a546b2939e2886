//! What a command found, and the exit code it maps to: 0 success, 1 a negative finding, 2 the command
//! could not run (errors travel as `anyhow::Error`) or was interrupted, 3 the gate cannot decide.

/// What a command found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Exit 0.
    Clean,
    /// Exit 1: a mismatch, a difference, a block that does not parse.
    Finding,
    /// Exit 2 when the work could not be completed but what was done is kept: a clean stop (Ctrl-C), a
    /// peer that gave no clear answer.
    Incomplete,
    /// Exit 3: the gate cannot decide on this evidence.
    Inconclusive,
    /// The exit code of a watched child (`dualrun replay` with an in-process legacy), passed on.
    Exited(u8),
}

impl Outcome {
    /// Clean when `clean`, else a finding.
    pub(crate) fn clean_if(clean: bool) -> Outcome {
        if clean {
            Outcome::Clean
        } else {
            Outcome::Finding
        }
    }

    /// The process exit code.
    pub(crate) fn exit_code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Finding => 1,
            Outcome::Incomplete => 2,
            Outcome::Inconclusive => 3,
            Outcome::Exited(code) => code,
        }
    }
}
