#!/usr/bin/env bash
# Benchmark (prints figures; never pass/fail): a SHADOW replay of a signed synthetic chain with the
# reference Python legacy, once as a single run and once as an N-task array on a single-node Slurm
# cluster (deploy/slurm), then the merge; wall times, and whether the merged records equal the single
# run's. Needs root (slurmd).
#   scripts/bench-shards.sh [BLOCKS (default 1000000)] [SHARDS (default 4)]
set -euo pipefail
cd "$(dirname "$0")/.."
blocks=${1:-1000000}
shards=${2:-4}
cargo build --release -q -p dualrun
bin=$PWD/target/release/dualrun
work=$PWD/target/bench-shards
rm -rf "$work"
mkdir -p "$work"
chain=$work/chain
keys=()
for i in 1 2 3; do keys+=(--key harness/sample/keys/throwaway-test-leader-$i.key); done
faults=()
for i in $(seq 1 8); do faults+=(--fault "$((i * blocks / 9)):missing"); done
t0=$(date +%s.%N)
"$bin" chain synth --out "$chain" --blocks "$blocks" --profile harness/sample/profile.toml "${keys[@]}" "${faults[@]}" >/dev/null 2>&1
t1=$(date +%s.%N)
profile=$PWD/harness/sample/profile.toml
runs=$work/runs
set +e
"$bin" replay --chain "$chain" --profile "$profile" --out "$runs/single" >/dev/null 2>"$work/single.log"
set -e
t2=$(date +%s.%N)
conf=$(deploy/slurm/local-cluster.sh start "$work/slurm")
export "${conf#export }"
trap 'deploy/slurm/local-cluster.sh stop "$work/slurm"' EXIT
t3=$(date +%s.%N)
read -r array merge < <(deploy/slurm/submit.sh "$shards" "$bin" "$chain" "$profile" "$runs")
while [ -n "$(squeue -h -j "$array,$merge")" ]; do sleep 0.5; done
t4=$(date +%s.%N)
rm -rf "$runs/merged-again"
m0=$(date +%s.%N)
"$bin" merge "$runs"/shard-* --out "$runs/merged-again" >/dev/null || true
m1=$(date +%s.%N)
same=no
cmp -s "$runs/single/divergences.jsonl" "$runs/merged/divergences.jsonl" \
    && cmp -s "$runs/single/divergences.csv" "$runs/merged/divergences.csv" && same=yes
printf 'sharded replay: %s blocks, SHADOW (reference Python legacy + leader-v1), %s cores\n' "$blocks" "$(nproc)"
printf '  %-38s %8.1f s\n' "synthetic chain made" "$(echo "$t1 - $t0" | bc)"
printf '  %-38s %8.1f s\n' "single run" "$(echo "$t2 - $t1" | bc)"
printf '  %-38s %8.1f s\n' "$shards-task Slurm array + merge job" "$(echo "$t4 - $t3" | bc)"
printf '  %-38s %8.1f s\n' "merge alone (again, by hand)" "$(echo "$m1 - $m0" | bc)"
printf '  %-38s %8s\n' "merged records equal the single run's" "$same"
