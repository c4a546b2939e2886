//! Writes the crafted leader-v1 vector set into a directory (`golden-vectors/leader-v1` in the repo).
//! Usage: make-leader-vectors DIR

use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: make-leader-vectors DIR");
        return std::process::ExitCode::from(2);
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("make-leader-vectors: {}: {e}", dir.display());
        return std::process::ExitCode::from(2);
    }
    let vectors = dualrun_golden::crafted::leader_v1_vectors();
    for v in &vectors {
        let path = dir.join(v.file_name());
        if let Err(e) = std::fs::write(&path, v.to_json()) {
            eprintln!("make-leader-vectors: {}: {e}", path.display());
            return std::process::ExitCode::from(2);
        }
    }
    println!("wrote {} vectors to {}", vectors.len(), dir.display());
    std::process::ExitCode::SUCCESS
}
