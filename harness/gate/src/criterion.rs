//! One criterion of an evaluation ([`Criterion`]: its value, threshold, outcome and note) and the gate's
//! answer ([`GateOutcome`]): what every rule of the gate — replay evidence, isolation, fleet — returns.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// The gate's answer, ordered from best to worst (an evaluation takes its worst criterion's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GateOutcome {
    /// The move may be made.
    Pass,
    /// Too little evidence to say (never a pass).
    Inconclusive,
    /// The evidence speaks against the move.
    Fail,
}

impl fmt::Display for GateOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GateOutcome::Pass => "pass",
            GateOutcome::Inconclusive => "inconclusive",
            GateOutcome::Fail => "fail",
        })
    }
}

/// One criterion of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Criterion {
    /// Its name (`min_blocks`, `max_divergences`, …).
    pub name: String,
    /// What the evidence shows.
    pub value: Value,
    /// What the policy requires.
    pub threshold: String,
    /// Whether the value meets the threshold.
    pub outcome: GateOutcome,
    /// Why, when it is not obvious.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Criterion {
    /// The value as the text report shows it: a golden run's counts in words, a string as it is,
    /// anything else as JSON.
    pub fn value_text(&self) -> String {
        match &self.value {
            Value::Object(o) if o.contains_key("passed") => {
                format!("{} passed, {} failed, {} skipped", o["passed"], o["failed"], o["skipped"])
            }
            Value::String(s) => s.clone(),
            v => v.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn criterion_values_as_text() {
        let c = |value: Value| Criterion {
            name: "x".into(),
            value,
            threshold: String::new(),
            outcome: GateOutcome::Pass,
            note: String::new(),
        };
        assert_eq!(c(json!({"passed": 3, "failed": 0, "skipped": 1})).value_text(), "3 passed, 0 failed, 1 skipped");
        assert_eq!(c(json!("none")).value_text(), "none");
        assert_eq!(c(json!(12)).value_text(), "12");
        assert_eq!(c(json!({"halt": 2})).value_text(), "{\"halt\":2}");
    }
}
