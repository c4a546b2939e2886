//! Writes the crafted vector sets into a golden-vector directory (the repo's `golden-vectors/`):
//! `leader-v1/`, `mode-v1/`, `finality-v1/` and `fork-choice-v1/`, each emptied of older `*.json` first.
//! Usage: make-golden-vectors DIR

// The package's dependencies are the library's; this binary uses only the library.
#![allow(unused_crate_dependencies)]

use std::path::{Path, PathBuf};

fn write_set(dir: &Path, vectors: &[dualrun_golden::Vector]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "json") {
            std::fs::remove_file(p)?;
        }
    }
    for v in vectors {
        std::fs::write(dir.join(v.file_name()), v.to_json())?;
    }
    println!("wrote {} vectors to {}", vectors.len(), dir.display());
    Ok(())
}

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: make-golden-vectors DIR");
        return std::process::ExitCode::from(2);
    };
    let sets = [
        ("leader-v1", dualrun_golden::crafted::leader_v1_vectors()),
        ("mode-v1", dualrun_golden::crafted::mode_v1_vectors()),
        ("finality-v1", dualrun_golden::crafted::finality_v1_vectors()),
        ("fork-choice-v1", dualrun_golden::crafted::fork_choice_v1_vectors()),
    ];
    for (name, vectors) in sets {
        if let Err(e) = write_set(&dir.join(name), &vectors) {
            eprintln!("make-golden-vectors: {}: {e}", dir.join(name).display());
            return std::process::ExitCode::from(2);
        }
    }
    std::process::ExitCode::SUCCESS
}
