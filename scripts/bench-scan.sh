#!/usr/bin/env bash
# Benchmark of `dualrun chain scan` (prints figures; not a test): builds release binaries, makes a
# synthetic 1M-block chain once (kept under target/bench-chains/), and prints blocks/s and peak RSS next
# to the raw heed iteration rate and the Keccak hashing ceiling measured in the same run.
# Usage: scripts/bench-scan.sh [--blocks N] [--chain-dir DIR] [--small N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p dualrun -p dualrun-bench
exec target/release/dualrun-bench scan "$@"
