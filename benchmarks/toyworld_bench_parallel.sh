#!/usr/bin/env bash
# Run `aved toyworld bench` as N shards in parallel into one results folder, then write its report.
# Usage: benchmarks/toyworld_bench_parallel.sh OUT N [more `aved toyworld bench` options, e.g. --device cuda]
# Each shard logs to OUT.shardI.log; a stopped run resumes when started again with the same options.
set -uo pipefail
out=$1
n=$2
shift 2
python=${PYTHON:-python3}
mkdir -p "$out"
pids=()
for ((i = 0; i < n; i++)); do
  # One numba cache per shard: librosa's JIT-compiled functions are cached on first use, and shards compiling
  # into one cache at once is the suspect in shards that died at their first scoring on a 16-core machine.
  NUMBA_CACHE_DIR="$out.numba$i" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} "$python" -m aved toyworld bench --out "$out" --shard "$i/$n" "$@" \
    >"$out.shard$i.log" 2>&1 &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' INT TERM
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
"$python" -m aved toyworld report "$out" || status=1
exit $status
