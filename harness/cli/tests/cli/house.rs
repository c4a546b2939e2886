//! The workspace's house rules, checked on its sources: no module imports another that imports it back,
//! directly or around a loop (a module is a source file; an import is a `crate::…` path outside its
//! tests), so data flows one way inside every crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::repo;

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The module a source file is, by path below `src` (`commands/gate.rs` → `commands::gate`; `lib.rs`,
/// `main.rs` and `mod.rs` name their directory's module).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("lib" | "main" | "mod")) {
        parts.pop();
    }
    parts.join("::")
}

/// The modules of `modules` that `text` names with a `crate::` path, its tests left out.
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut found = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (i, _) in line.match_indices("crate::") {
            let path: String =
                line[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            // The longest module the path names (`commands::gate::run` → `commands::gate`).
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            if let Some(m) = (1..=segments.len()).rev().map(|n| segments[..n].join("::")).find(|m| modules.contains(m))
            {
                found.insert(m);
            }
        }
    }
    found
}

/// A cycle among `edges`, as the modules around it, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == m) {
            let mut loop_ = stack[at..].to_vec();
            loop_.push(m.to_owned());
            return Some(loop_);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.to_owned());
        for next in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|m| visit(m, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_a_module_cycle() {
    let root = repo();
    let mut crates: Vec<PathBuf> = Vec::new();
    for group in ["harness", "adapters", "bindings"] {
        for entry in std::fs::read_dir(root.join(group)).unwrap().map(Result::unwrap) {
            if entry.path().join("src").is_dir() {
                crates.push(entry.path().join("src"));
            }
        }
    }
    assert!(crates.len() >= 20, "found {} crates", crates.len());
    let mut problems = Vec::new();
    for src in crates {
        let mut files = Vec::new();
        sources(&src, &mut files);
        let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &files {
            let m = module_of(&src, f);
            let mut to = imports(&std::fs::read_to_string(f).unwrap(), &modules);
            to.remove(&m);
            // The crate root re-exports its modules: naming it is no import of a module.
            to.remove("");
            edges.insert(m, to);
        }
        if let Some(c) = cycle(&edges) {
            problems.push(format!("{}: {}", src.display(), c.join(" -> ")));
        }
    }
    assert!(problems.is_empty(), "module cycles:\n{}", problems.join("\n"));
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".into(), BTreeSet::from(["c".to_owned()])),
        ("c".into(), BTreeSet::from(["a".to_owned()])),
    ]
    .into();
    assert_eq!(cycle(&edges), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    let modules = BTreeSet::from(["commands::gate".to_owned(), "commands".to_owned(), "rerun".to_owned()]);
    let text = "use crate::commands::gate::run;\n// crate::rerun\nfn f() { crate::rerun::check(); }\n#[cfg(test)]\nuse crate::x;";
    assert_eq!(imports(text, &modules), BTreeSet::from(["commands::gate".to_owned(), "rerun".to_owned()]));
}
