#!/usr/bin/env bash
# The one command of issue 12 for a lent GPU machine (about 8 minutes at most):
#   bash benchmarks/gpu_check.sh OUT [gpu_check.py options...]
# Uses the preinstalled python3 (torch, triton) and the wheels in .whl/ (or $GPU_WHEELS) for what is
# missing (liger-kernel, cut-cross-entropy; see benchmarks/gpu_wheels.txt), runs benchmarks/gpu_check.py
# under a hard timeout (SIGTERM at $GPU_CHECK_TIMEOUT s, default 470; the script writes partial results),
# and keeps its log in OUT/gpu_check.log.
#   bash benchmarks/gpu_check.sh --fetch-wheels [DIR]   # on a machine with registry access: fill .whl/
set -uo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python3}"
if [ "${1:-}" = "--fetch-wheels" ]; then
  dir="${2:-.whl}"
  mkdir -p "$dir"
  grep -q '^/\.whl/$' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  exec "$py" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$dir" $(grep -v '^#' benchmarks/gpu_wheels.txt | grep -v '^$')
fi
out="${1:?usage: bash benchmarks/gpu_check.sh OUT [options] | --fetch-wheels [DIR]}"
shift
mkdir -p "$out"
wheels="${GPU_WHEELS:-.whl}"
args=()
if [ -d "$wheels" ]; then args+=(--wheels "$wheels"); fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv 2>&1 || true; } \
  | tee "$out/gpu_check.log"
timeout -k 15 "${GPU_CHECK_TIMEOUT:-470}" "$py" benchmarks/gpu_check.py "$out" "${args[@]}" "$@" 2>&1 \
  | tee -a "$out/gpu_check.log"
rc=${PIPESTATUS[0]}
echo "gpu_check exit status: $rc" | tee -a "$out/gpu_check.log"
exit "$rc"
