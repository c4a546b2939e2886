//! The one spelling of the `dualrun` command a run's inputs stand for: a record's reproduce line (that
//! command for one block) and `report verify --rerun` (for the run's whole range) are both made here,
//! from the manifest's [`Inputs`], so they cannot drift from what the run was made of.

use std::path::Path;

use dualrun_rundir::{CommandSettings, Inputs, RunSettings};

/// A run that no command line makes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotACommand {
    /// A run driven block by block from Python: its blocks came from the caller.
    #[error(
        "the run was driven from Python ({driver}), not by a dualrun command: it has no command line to run again"
    )]
    Embedded {
        /// What drove it.
        driver: String,
    },
}

/// The words of the command that makes `inputs`' records, `dualrun` first, without a range or a run
/// directory: `replay --chain DIR` (or `follow --daemon URL` for a live run), then the profile, the
/// verifiers the mode runs, the mode, `now`, and the settings that differ from the defaults. A noise
/// run's `--noise` is not among them: a reproduce line judges its block once, and a run's records do not
/// depend on its noise rate but for its noise records (add `--noise 1` to see a verifier asked twice).
pub fn words(inputs: &Inputs) -> Result<Vec<String>, NotACommand> {
    let settings: &CommandSettings = match &inputs.settings {
        RunSettings::Command(s) => s,
        RunSettings::Embedded(e) => return Err(NotACommand::Embedded { driver: e.driver.clone() }),
    };
    let i = inputs;
    let (command, source) = if i.chain.live { ("follow", "--daemon") } else { ("replay", "--chain") };
    let mut words: Vec<String> = vec!["dualrun".into(), command.into(), source.into(), i.chain.path.clone()];
    let mut flag = |flag: &str, value: String| words.extend([flag.to_owned(), value]);
    flag("--profile", i.profile.path.display().to_string());
    if let Some(l) = &i.legacy {
        flag("--legacy", l.spec.clone());
    }
    if let Some(c) = &i.candidate {
        flag("--candidate", c.spec.clone());
    }
    flag("--mode", i.mode.to_string());
    flag("--now", i.env.now.clone());
    for p in &settings.python_path {
        flag("--python-path", p.display().to_string());
    }
    if let Some(m) = &settings.reason_map {
        flag("--reason-map", m.path.display().to_string());
    }
    if settings.timeout_seconds != CommandSettings::DEFAULT_TIMEOUT_SECONDS {
        flag("--timeout", settings.timeout_seconds.to_string());
    }
    Ok(words)
}

/// The shell line that judges block `height` again into `out`: [`words`] with `--from H --to H --out
/// DIR`, quoted for a POSIX shell.
pub fn reproduce_line(words: &[String], height: u64, out: &Path) -> String {
    let h = height.to_string();
    let mut argv = words.to_vec();
    argv.extend(["--from".into(), h.clone(), "--to".into(), h, "--out".into(), out.display().to_string()]);
    dualrun_rundir::shell_line(&argv)
}

/// The arguments (after `dualrun`) that make the whole run of `inputs` again into `out` (with its
/// `--noise`, so the same blocks are judged twice).
pub fn rerun_args(inputs: &Inputs, out: &Path) -> Result<Vec<String>, NotACommand> {
    let mut args = words(inputs)?.split_off(1);
    if let Some(rate) = inputs.settings.noise() {
        args.extend(["--noise".into(), rate.to_string()]);
    }
    let (from, to) = (inputs.chain.from.to_string(), inputs.chain.to.to_string());
    args.extend(["--from".into(), from, "--to".into(), to, "--out".into(), out.display().to_string()]);
    Ok(args)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use dualrun_core::{Mode, VerifierIdentity};
    use dualrun_format::Hash32;
    use dualrun_rundir::{ChainInputs, EmbeddedSettings, EnvInputs, ProfileInputs, ReasonMapInput};

    /// Inputs of a run over `/chains/a b` (or a daemon, `live`), heights 3..=9, shadow mode.
    pub(crate) fn inputs(live: bool, settings: RunSettings) -> Inputs {
        let verifier = |spec: &str| {
            Some(VerifierIdentity { spec: spec.into(), description: String::new(), files: Default::default() })
        };
        Inputs {
            chain: ChainInputs {
                path: if live { "http://127.0.0.1:18081".into() } else { "/chains/a b".into() },
                schema_version: 5,
                genesis_id: Hash32([1; 32]),
                from: 3,
                to: 9,
                blocks: 7,
                chain_digest: Hash32([2; 32]),
                live,
            },
            profile: ProfileInputs { path: "/p.toml".into(), digest: Hash32([3; 32]), network: "net".into() },
            mode: Mode::Shadow,
            legacy: verifier("python:m"),
            candidate: verifier("builtin:leader-v1"),
            env: EnvInputs { now: "block".into() },
            settings,
            shard: None,
        }
    }

    /// Settings with a Python path and a reason map.
    pub(crate) fn settings(timeout_seconds: f64) -> RunSettings {
        RunSettings::Command(CommandSettings {
            timeout_seconds,
            python_path: vec!["/x y".into()],
            reason_map: Some(ReasonMapInput { path: "/r.toml".into(), digest: String::new() }),
            noise: None,
        })
    }

    #[test]
    fn reproduce_and_rerun_say_the_same_command() {
        let i = inputs(false, settings(30.0));
        assert_eq!(
            reproduce_line(&words(&i).unwrap(), 5, Path::new("/runs/reproduce-5")),
            "dualrun replay --chain '/chains/a b' --profile /p.toml --legacy python:m --candidate builtin:leader-v1 \
             --mode shadow --now block --python-path '/x y' --reason-map /r.toml --from 5 --to 5 --out \
             /runs/reproduce-5"
        );
        let args = rerun_args(&i, Path::new("/out")).unwrap();
        assert_eq!(args[..args.len() - 6], words(&i).unwrap()[1..]);
        assert_eq!(args[args.len() - 6..], ["--from", "3", "--to", "9", "--out", "/out"]);
        let args = rerun_args(&inputs(false, settings(2.5)), Path::new("/out")).unwrap();
        assert_eq!(args[args.len() - 8..], ["--timeout", "2.5", "--from", "3", "--to", "9", "--out", "/out"]);
        let RunSettings::Command(mut noisy) = settings(30.0) else { unreachable!() };
        noisy.noise = Some("0.5".parse().unwrap());
        let args = rerun_args(&inputs(false, RunSettings::Command(noisy)), Path::new("/out")).unwrap();
        assert_eq!(args[args.len() - 8..], ["--noise", "0.5", "--from", "3", "--to", "9", "--out", "/out"]);
    }

    #[test]
    fn a_live_run_follows_and_a_mode_names_only_the_verifiers_it_runs() {
        let mut i = inputs(true, settings(30.0));
        i.mode = Mode::Only;
        i.legacy = None;
        let w = words(&i).unwrap();
        assert_eq!(w[..4], ["dualrun", "follow", "--daemon", "http://127.0.0.1:18081"]);
        assert!(!w.iter().any(|w| w == "--legacy"), "{w:?}");
    }

    #[test]
    fn a_run_driven_from_python_has_no_command() {
        let embedded =
            RunSettings::Embedded(EmbeddedSettings { driver: "python DualRun".into(), reasons: Default::default() });
        let e = words(&inputs(true, embedded)).unwrap_err();
        assert!(e.to_string().contains("driven from Python (python DualRun)"), "{e}");
    }
}
