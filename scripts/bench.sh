#!/usr/bin/env bash
# Benchmarks (print figures; never pass/fail): builds release binaries, makes the synthetic chain a
# benchmark needs once (kept under target/bench-chains/), and prints the figures next to the ceilings
# measured in the same run: each command and each ceiling in alternating rounds, best of three, every
# ratio printed against the nominal ceiling (one core's rate x cores) and against the ceiling measured on
# every core together (the goal: on a VM two vCPUs may share a physical core).
#   scripts/bench.sh scan   [--blocks N] [--chain-dir DIR] [--small N]   chain scan vs Keccak and raw heed
#                                            (goal: >= 0.8 of the hashing ceiling measured on every core)
#   scripts/bench.sh leader [--blocks N] [--chain-dir DIR] [--small N]   leader check and a candidate-only
#                                            replay vs Ed25519 verify_strict (goal: both >= 0.9 of the
#                                            ceiling measured on every core)
#   scripts/bench.sh replay [--blocks N] [--chain-dir DIR] [--small N] [--quick]
#                                            replay: candidate only, legacy only, SHADOW; peak RSS
#   scripts/bench.sh report [--records 10,10000,100000] [--runs-dir DIR]
#                                            report: gather and render times, HTML size (goal at
#                                            100000 records: <= 3 s, <= 15 MB)
#   scripts/bench.sh follow-latency [--blocks 200] [--poll-ms 250]
#                                            follow against a real monerod: tip -> durable record
#                                            p50/p99 with polling and with ZMQ; lag when production stops
#   scripts/bench.sh fleet [--nodes 50] [--poll-ms 1000] [--idle-seconds 30] [--splits 10]
#                                            fleet over simulated daemons: idle CPU share (goal for 50
#                                            nodes: <= 1 % of a core), split detection latency (goal:
#                                            <= 2 poll intervals)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p dualrun -p dualrun-bench
exec target/release/dualrun-bench "$@"
