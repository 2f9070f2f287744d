#!/usr/bin/env bash
# The prepared GPU check (issue 17): full-size SD 2.1-base + AudioLDM2-large architectures with random weights
# (nothing downloaded), a 10 s clip (the 5 s example twice: 10 grids of 2×2 frames at 4 fps, and the 10.24 s mel),
# eager and compiled, float32 and bfloat16. bench_step.py prints s/step, peak GiB and the per-clip time at the
# default 200 random steps and at --fast's 25 annealed ones (a step costs the same in either schedule).
# Usage: benchmarks/gpu_check.sh [PYTHON]   (about 7 minutes on one H100/H200)
set -uo pipefail
python=$(realpath "${1:-${PYTHON:-.venv/bin/python}}")
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
"$python" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())" || exit 2
STEPS=6          # one warm-up step and five timed ones (compiled: the CUDA graphs are recorded in the first two)
EAGER_LIMIT=120  # s per eager run: building the priors, the single forwards and 6 steps
COMPILED_LIMIT=240  # s for the compiled run: the same plus compiling both UNets
status=0
for run in "float32" "bfloat16" "bfloat16 --compile"; do
  set -- $run
  limit=$EAGER_LIMIT
  [ $# -gt 1 ] && limit=$COMPILED_LIMIT
  echo "=== dtype $1 ${2:-eager} (limit ${limit} s) ==="
  timeout "$limit" "$python" benchmarks/bench_step.py --sizes full --device cuda --duration 10 --steps $STEPS \
    --no-step-flops --dtype "$@" || { echo "(run failed or timed out: exit $?)"; status=1; }
done
exit $status
