#!/usr/bin/env bash
# Submits a sharded dualrun replay to Slurm: an array of N shard tasks, then the merge as a job that
# depends on the whole array. Prints the two job ids (array, merge).
#   deploy/slurm/submit.sh N DUALRUN CHAIN PROFILE RUNS [replay options…]
set -euo pipefail
[ $# -ge 5 ] || { echo "usage: $0 N DUALRUN CHAIN PROFILE RUNS [replay options…]" >&2; exit 2; }
n=$1 dualrun=$2 chain=$3 profile=$4 runs=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$runs/logs"
export DUALRUN=$dualrun CHAIN=$chain PROFILE=$profile RUNS=$runs DUALRUN_ARGS="$*"
array=$(sbatch --parsable --array="0-$((n - 1))" --output="$runs/logs/shard-%a.log" "$here/replay-array.sbatch")
# The merge runs once every shard task succeeded; if one fails it is cancelled (the shard is then
# resumed, and the merge submitted again: sbatch deploy/slurm/merge.sbatch with the same environment).
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes --output="$runs/logs/merge.log" \
    "$here/merge.sbatch")
echo "$array $merge"
