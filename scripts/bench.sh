#!/usr/bin/env bash
# Benchmarks (print figures; never pass/fail): builds release binaries, makes the synthetic chain a
# benchmark needs once (kept under target/bench-chains/), and prints the figures next to the ceilings
# measured in the same run.
#   scripts/bench.sh scan   [--blocks N] [--chain-dir DIR] [--small N]   chain scan vs Keccak and raw heed
#   scripts/bench.sh leader [--blocks N] [--chain-dir DIR] [--small N]   leader check vs Ed25519 verify_strict
#   scripts/bench.sh replay [--blocks N] [--chain-dir DIR] [--small N] [--quick]
#                                            replay: candidate only, legacy only, SHADOW; peak RSS
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p dualrun -p dualrun-bench
exec target/release/dualrun-bench "$@"
