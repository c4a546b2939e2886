//! [`AdapterSpec`]: an adapter spec (`--legacy`, `--candidate`, `golden check --legacy`) parsed once,
//! its text kept exactly as given.

use std::fmt;
use std::str::FromStr;

use crate::builtin;

/// The verifier an adapter spec names. [`Display`](fmt::Display) gives back the text it was parsed from,
/// byte for byte (the text a run's manifest and reproduce lines carry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdapterSpec {
    /// `builtin:leader-v1`: the leader protocol v1 validator, in process.
    Builtin,
    /// `python:MODULE[:FUNCTION]`: a function of the embedded CPython, in process.
    Python {
        /// The module.
        module: String,
        /// The function (default: the adapter's, `verify_block`).
        function: Option<String>,
    },
    /// `exec:COMMAND`: a child process speaking JSON lines.
    Exec(String),
    /// `monerod:URL`: a scratch monerod judging by `submit_block`.
    Monerod(String),
}

/// A spec that names no verifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Not one of the adapters' prefixes.
    #[error("unknown adapter; expected python:MODULE[:FUNCTION], exec:COMMAND, monerod:URL or builtin:leader-v1")]
    Unknown,
    /// `builtin:` with another name than the one built-in verifier.
    #[error("the only built-in verifier is {}", builtin::SPEC)]
    NoSuchBuiltin,
    /// `python:` without a module or with an empty function.
    #[error("expected python:MODULE[:FUNCTION]")]
    Python,
}

impl FromStr for AdapterSpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<AdapterSpec, SpecError> {
        let (kind, rest) = spec.split_once(':').ok_or(SpecError::Unknown)?;
        match kind {
            "builtin" if spec == builtin::SPEC => Ok(AdapterSpec::Builtin),
            "builtin" => Err(SpecError::NoSuchBuiltin),
            "python" => {
                let (module, function) = match rest.split_once(':') {
                    Some((m, f)) => (m, Some(f)),
                    None => (rest, None),
                };
                if module.is_empty() || function.is_some_and(str::is_empty) {
                    return Err(SpecError::Python);
                }
                Ok(AdapterSpec::Python { module: module.into(), function: function.map(Into::into) })
            }
            "exec" => Ok(AdapterSpec::Exec(rest.into())),
            "monerod" => Ok(AdapterSpec::Monerod(rest.into())),
            _ => Err(SpecError::Unknown),
        }
    }
}

impl fmt::Display for AdapterSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AdapterSpec::Builtin => f.write_str(builtin::SPEC),
            AdapterSpec::Python { module, function: None } => write!(f, "python:{module}"),
            AdapterSpec::Python { module, function: Some(function) } => write!(f, "python:{module}:{function}"),
            AdapterSpec::Exec(command) => write!(f, "exec:{command}"),
            AdapterSpec::Monerod(url) => write!(f, "monerod:{url}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind parses into its variant and prints back as the same text, byte for byte.
    #[test]
    fn specs_round_trip() {
        let cases = [
            ("builtin:leader-v1", AdapterSpec::Builtin),
            ("python:dualrun_legacy", AdapterSpec::Python { module: "dualrun_legacy".into(), function: None }),
            ("python:m:verify", AdapterSpec::Python { module: "m".into(), function: Some("verify".into()) }),
            ("python:m:a:b", AdapterSpec::Python { module: "m".into(), function: Some("a:b".into()) }),
            ("exec:python3 -m v  --x 'a:b'", AdapterSpec::Exec("python3 -m v  --x 'a:b'".into())),
            ("exec:", AdapterSpec::Exec(String::new())),
            ("monerod:http://127.0.0.1:18081", AdapterSpec::Monerod("http://127.0.0.1:18081".into())),
        ];
        for (text, spec) in cases {
            assert_eq!(text.parse::<AdapterSpec>().as_ref(), Ok(&spec), "{text}");
            assert_eq!(spec.to_string(), text);
        }
    }

    /// What names no verifier is refused, saying what would.
    #[test]
    fn other_specs_are_refused() {
        let refused = |s: &str| s.parse::<AdapterSpec>().unwrap_err().to_string();
        for s in ["carrier-pigeon:x", "leader-v1", "", "Python:m"] {
            assert!(refused(s).starts_with("unknown adapter; expected python:MODULE[:FUNCTION]"), "{s}");
        }
        assert_eq!(refused("builtin:leader-v2"), "the only built-in verifier is builtin:leader-v1");
        for s in ["python:", "python::f", "python:m:"] {
            assert_eq!(refused(s), "expected python:MODULE[:FUNCTION]", "{s}");
        }
    }
}
