//! The monitoring in `deploy/`: Prometheus' own `promtool` checks the alert rules, runs their unit tests
//! and checks the example scrape config; the Grafana dashboard is valid JSON whose queries parse as
//! PromQL and use only the metrics `dualrun follow` and `dualrun fleet` serve, every one of them at least
//! once, through a
//! `datasource` variable. Needs Debian's `prometheus` package for `promtool` (ci/test.sh installs it).

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::*;

/// The metric names dualrun serves (its interface; see the `dualrun-metrics` crate): a run's, then a
/// fleet watch's.
const METRICS: [&str; 26] = [
    "dualrun_blocks_total",
    "dualrun_divergences_total",
    "dualrun_errors_total",
    "dualrun_fallbacks_total",
    "dualrun_noise_total",
    "dualrun_verify_seconds",
    "dualrun_judged_height",
    "dualrun_daemon_height",
    "dualrun_lag_blocks",
    "dualrun_reorgs_total",
    "dualrun_daemon_up",
    "dualrun_mode_info",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_open_fds",
    "dualrun_fleet_nodes",
    "dualrun_fleet_nodes_up",
    "dualrun_fleet_node_up",
    "dualrun_fleet_node_height",
    "dualrun_fleet_node_lag_blocks",
    "dualrun_fleet_split_open",
    "dualrun_fleet_split_fork_height",
    "dualrun_fleet_split_last_height",
    "dualrun_fleet_reorgs_total",
    "dualrun_fleet_findings_total",
];

/// The alerts the runbooks describe (docs/follow.md#alerts; the fleet's docs/migration-network.md#alerts).
const ALERTS: [&str; 17] = [
    "DualrunSplit",
    "DualrunHaltInPrimary",
    "DualrunHalt",
    "DualrunFactOrReasonDivergence",
    "DualrunErrorRate",
    "DualrunFallbacks",
    "DualrunCandidateNoise",
    "DualrunCandidateSlower",
    "DualrunLagging",
    "DualrunStalled",
    "DualrunDaemonDown",
    "DualrunAbsent",
    "DualrunFleetSplit",
    "DualrunFleetNodeDown",
    "DualrunFleetNodeBehind",
    "DualrunFleetReorgs",
    "DualrunFleetAbsent",
];

const RULES: &str = "deploy/prometheus/dualrun-rules.yml";
const RULE_TESTS: &str = "deploy/prometheus/dualrun-rules.test.yml";
const CONFIG: &str = "deploy/prometheus/prometheus.yml";
const DASHBOARD: &str = "deploy/grafana/dualrun-dashboard.json";

/// PromQL's functions and aggregation operators (Prometheus 2.x).
const FUNCTIONS: &str = "abs absent absent_over_time avg_over_time ceil changes clamp clamp_max clamp_min \
    count_over_time day_of_month day_of_week day_of_year days_in_month delta deriv exp floor histogram_quantile \
    holt_winters hour idelta increase irate label_join label_replace last_over_time ln log10 log2 max_over_time \
    min_over_time minute month predict_linear present_over_time quantile_over_time rate resets round scalar sgn \
    sort sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time time timestamp vector year \
    sum min max avg group stddev stdvar count count_values bottomk topk quantile";

/// Keywords followed by a parenthesized list of label names.
const GROUPING: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];
const KEYWORDS: &[&str] = &["and", "or", "unless", "offset", "bool", "atan2", "inf", "nan"];

/// Runs `promtool` in the repository and returns what it printed; fails naming the Debian package when
/// it is not installed, and with its output when it fails.
fn promtool(args: &[&str]) -> String {
    let promtool = dualrun_testkit::tool::require(dualrun_testkit::tool::PROMTOOL);
    let out = Command::new(promtool).args(args).current_dir(repo()).output().expect("run promtool");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {} failed:\n{text}", args.join(" "));
    text
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The index just past the bracket that closes the one at `start` (strings inside skipped).
fn skip_group(b: &[u8], start: usize, close: u8) -> usize {
    let mut i = start + 1;
    while i < b.len() && b[i] != close {
        i = if matches!(b[i], b'"' | b'\'' | b'`') { skip_string(b, i) } else { i + 1 };
    }
    i + 1
}

fn skip_string(b: &[u8], start: usize) -> usize {
    let quote = b[start];
    let mut i = start + 1;
    while i < b.len() && b[i] != quote {
        i += if b[i] == b'\\' && quote != b'`' { 2 } else { 1 };
    }
    i + 1
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// The metric names a PromQL expression selects (a histogram's `_bucket`/`_sum`/`_count` series as the
/// histogram's name). Label matchers, ranges, strings, numbers, durations and Grafana variables are
/// skipped; an unknown function is an error.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let b = expr.as_bytes();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if matches!(c, b'"' | b'\'' | b'`') {
            i = skip_string(b, i);
        } else if c == b'{' {
            i = skip_group(b, i, b'}');
        } else if c == b'[' {
            i = skip_group(b, i, b']');
        } else if c == b'$' || c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            // A variable ($__rate_interval, ${x}), a number or a duration.
            i += 1;
            while i < b.len() && (is_ident(b[i]) || matches!(b[i], b'.' | b'{' | b'}')) {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let start = i;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            let word = &expr[start..i];
            let mut next = i;
            while next < b.len() && b[next].is_ascii_whitespace() {
                next += 1;
            }
            let call = b.get(next) == Some(&b'(');
            if GROUPING.contains(&word) {
                if call {
                    i = skip_group(b, next, b')');
                }
            } else if !FUNCTIONS.split_whitespace().any(|f| f == word) && !KEYWORDS.contains(&word) {
                assert!(!call, "unknown PromQL function {word:?} in {expr:?}");
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| word.strip_suffix(s).filter(|b| *b == "dualrun_verify_seconds"))
                    .unwrap_or(word);
                names.insert(base.to_owned());
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Every `expr` of a target in the dashboard's panels (rows' nested panels too).
fn dashboard_exprs(panels: &serde_json::Value, out: &mut Vec<String>) {
    for panel in panels.as_array().expect("panels is an array") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_else(|| panic!("a target without expr in {panel}"));
            out.push(expr.to_owned());
        }
        if !panel["panels"].is_null() {
            dashboard_exprs(&panel["panels"], out);
        }
    }
}

/// Every datasource reference anywhere in the dashboard is the `datasource` variable, never a uid.
fn assert_datasources_are_the_variable(v: &serde_json::Value, at: &str) {
    match v {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                if key == "datasource" {
                    let uid = value.get("uid").and_then(|u| u.as_str()).or(value.as_str());
                    assert!(
                        matches!(uid, Some("${datasource}" | "$datasource")),
                        "{at}.datasource is {value}, not the $datasource variable"
                    );
                }
                assert_datasources_are_the_variable(value, &format!("{at}.{key}"));
            }
        }
        serde_json::Value::Array(items) => {
            for (n, item) in items.iter().enumerate() {
                assert_datasources_are_the_variable(item, &format!("{at}[{n}]"));
            }
        }
        _ => {}
    }
}

/// The `expr` of every rule in a rule file: an inline one, or a `|` block of more-indented lines.
fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut exprs = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("expr:") else { continue };
        let indent = line.len() - line.trim_start().len();
        if rest.trim() == "|" {
            let body = lines[n + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                .copied()
                .collect::<Vec<_>>()
                .join("\n");
            exprs.push(body);
        } else {
            exprs.push(rest.trim().to_owned());
        }
    }
    exprs
}

#[test]
fn promtool_checks_the_rules_and_their_unit_tests_pass() {
    let out = promtool(&["check", "rules", RULES]);
    assert!(out.contains(&format!("SUCCESS: {} rules found", ALERTS.len())), "{out}");
    let out = promtool(&["test", "rules", RULE_TESTS]);
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn promtool_checks_the_example_config_and_the_rule_file_it_loads() {
    let out = promtool(&["check", "config", CONFIG]);
    assert!(
        out.contains("1 rule files found") && out.contains(&format!("SUCCESS: {} rules found", ALERTS.len())),
        "{out}"
    );
    let config = read(CONFIG);
    assert!(config.contains("job_name: dualrun\n") && config.contains("127.0.0.1:9464"), "{config}");
    assert!(config.contains("job_name: dualrun-fleet") && config.contains("127.0.0.1:9465"), "{config}");
}

#[test]
fn every_alert_is_there_labelled_and_tested_firing_and_not_firing() {
    let rules = read(RULES);
    let alerts: BTreeSet<&str> = rules.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")).collect();
    assert_eq!(alerts, ALERTS.into_iter().collect(), "the alerts of {RULES}");
    // Each rule: a severity of page or ticket, a summary, a description and the runbook.
    for rule in rules.split("- alert: ").skip(1) {
        let name = rule.lines().next().unwrap();
        assert!(rule.contains("severity: page") || rule.contains("severity: ticket"), "{name}: severity");
        let runbook = if name.starts_with("DualrunFleet") {
            "runbook: docs/migration-network.md#alerts"
        } else {
            "runbook: docs/follow.md#alerts"
        };
        for key in ["summary:", "description:", runbook] {
            assert!(rule.contains(key), "{name}: no {key}");
        }
    }
    for expr in rule_exprs(&rules) {
        for name in metric_names(&expr) {
            assert!(METRICS.contains(&name.as_str()) || name == "up", "{name} is not a dualrun metric: {expr}");
        }
    }
    // In the unit tests each alert has a case where it fires and one where it does not.
    let tests = read(RULE_TESTS);
    let lines: Vec<&str> = tests.lines().map(str::trim).collect();
    for alert in ALERTS {
        let case = format!("alertname: {alert}");
        let fires =
            lines.windows(3).any(|w| w[0] == case && w[1] == "exp_alerts:" && w[2].starts_with("- exp_labels:"));
        let quiet = lines
            .windows(2)
            .any(|w| (w[0] == case && w[1] == "exp_alerts: []") || w[0].contains(&format!("{case}, exp_alerts: []")));
        assert!(fires && quiet, "{alert}: fires tested {fires}, not firing tested {quiet}");
    }
}

#[test]
fn the_dashboard_queries_exactly_the_metrics_dualrun_serves() {
    let dash: serde_json::Value = serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is valid JSON");
    assert!(dash["schemaVersion"].as_u64().unwrap() >= 36, "schemaVersion {}", dash["schemaVersion"]);
    let vars = dash["templating"]["list"].as_array().unwrap();
    assert!(
        vars.iter().any(|v| v["name"] == "datasource" && v["type"] == "datasource" && v["query"] == "prometheus"),
        "no `datasource` variable of type prometheus"
    );
    assert_datasources_are_the_variable(&dash, "dashboard");

    let mut exprs = Vec::new();
    dashboard_exprs(&dash["panels"], &mut exprs);
    assert!(exprs.len() >= METRICS.len(), "{} queries", exprs.len());
    let mut used = BTreeSet::new();
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no metric in {expr:?}");
        for name in names {
            assert!(METRICS.contains(&name.as_str()), "{name} is not a dualrun metric: {expr}");
            used.insert(name);
        }
    }
    let unused: Vec<&str> = METRICS.into_iter().filter(|m| !used.contains(*m)).collect();
    assert!(unused.is_empty(), "metrics no panel shows: {unused:?}");
    assert!(exprs.iter().any(|e| e.contains("histogram_quantile(0.99") && e.contains("dualrun_verify_seconds_bucket")));

    // Every query parses as PromQL: promtool checks them as recording rules, Grafana's variables filled in.
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (n, expr) in exprs.iter().enumerate() {
        let filled = expr.replace("$__rate_interval", "1m").replace("$__range", "1h").replace("$job", ".*");
        let filled = filled.replace("$instance", ".*").replace("$fleet", ".*");
        let quoted = serde_json::to_string(&filled).unwrap();
        yaml += &format!("      - record: dashboard:query{n}\n        expr: {quoted}\n");
    }
    let file = dir.path().join("dashboard-queries.yml");
    std::fs::write(&file, yaml).unwrap();
    let out = promtool(&["check", "rules", s(&file)]);
    assert!(out.contains(&format!("SUCCESS: {} rules found", exprs.len())), "{out}");
}

#[test]
fn the_promql_reader_finds_metric_names_and_nothing_else() {
    let names = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    let latency = r#"histogram_quantile(0.99, sum by (verifier, le) (rate(dualrun_verify_seconds_bucket{instance=~"$instance"}[$__rate_interval])))"#;
    assert_eq!(names(latency), ["dualrun_verify_seconds"]);
    assert_eq!(
        names("(dualrun_lag_blocks > 0) and on (job, instance) (changes(dualrun_judged_height[10m]) == 0) unless x offset 10m"),
        ["dualrun_judged_height", "dualrun_lag_blocks", "x"]
    );
    assert_eq!(names(r#"time() - process_start_time_seconds{job="a}b"} * 1e3"#), ["process_start_time_seconds"]);
    assert!(std::panic::catch_unwind(|| metric_names("ratez(dualrun_blocks_total[5m])")).is_err());
}
