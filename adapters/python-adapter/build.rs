//! Records which CPython this crate is built against (PYO3_PYTHON, pinned in .cargo/config.toml), so
//! that at run time the embedded interpreter is started with that installation's home and a different
//! libpython is detected instead of silently used.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .args(["-c", "import sys; print(sys.base_prefix); print(sys.version.split()[0])"])
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e} (dualrun embeds Debian's python3.11; apt-get install python3.11 libpython3.11-dev)"));
    assert!(out.status.success(), "{python} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines = text.lines();
    let home = lines.next().expect("prefix");
    let version = lines.next().expect("version");
    println!("cargo:rustc-env=DUALRUN_PYTHON={python}");
    println!("cargo:rustc-env=DUALRUN_PYTHON_HOME={home}");
    println!("cargo:rustc-env=DUALRUN_PYTHON_VERSION={version}");
}
