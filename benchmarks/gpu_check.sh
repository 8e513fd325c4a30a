#!/usr/bin/env bash
# The GPU checks of issue 10 in one run, sized for ~10 minutes on one H200:
# the `gpu` tests, then benchmarks/gpu.py (CPU and GPU side by side); everything under $OUT.
#
#   bash benchmarks/gpu_check.sh          # a GPU machine that reaches PyPI: makes .venv-gpu
#                                         # with `.[dev,gpu]` (faiss-cpu swapped for faiss-gpu)
#   MMRAG_WHEELS=.whl bash benchmarks/gpu_check.sh
#                                         # no registry (a lent device): the machine's python3
#                                         # (torch with CUDA) plus the wheels in .whl, made
#                                         # here by benchmarks/gpu_wheels.sh
# PY=python skips the install and uses that interpreter; QUICK=1 measures the 1M index only;
# EXTRA="--dry-run" (or any gpu.py flags) is passed last. Exit status: the gpu tests' (the
# benchmark records its own failures per section in gpu.json).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/tmp/gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

if [ -n "${PY:-}" ]; then
  :
elif [ -n "${MMRAG_WHEELS:-}" ]; then
  PY=python3
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/mmrag-site "$MMRAG_WHEELS"/*.whl >"$OUT/install.log" 2>&1 || {
    echo "wheel install failed: see $OUT/install.log"; exit 2; }
  export PYTHONPATH="/tmp/mmrag-site:$PWD"
else
  PY=.venv-gpu/bin/python
  if [ ! -x "$PY" ]; then
    python3 -m venv .venv-gpu
    { $PY -m pip install -q -e ".[dev,gpu]" &&
      $PY -m pip uninstall -q -y faiss-cpu &&
      $PY -m pip install -q --force-reinstall --no-deps "faiss-gpu>=1.15,<2"; } \
      >"$OUT/install.log" 2>&1 || { echo "install failed: see $OUT/install.log"; exit 2; }
  fi
fi

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  "$PY" - <<'PY' 2>&1
from index.gpu import device_report
for row in device_report():
    print(f"{row.check}: {row.detail}")
PY
} | tee "$OUT/devices.txt"

timeout 300 "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu.py 2>&1 | tee "$OUT/gpu-tests.log"
tests=${PIPESTATUS[0]}

sizes="1000000 10000000"
[ -n "${QUICK:-}" ] && sizes="1000000"
# 10M: CAGRA or exact on the GPU; the CPU side stops at 1M (its HNSW build alone takes minutes)
timeout 420 "$PY" benchmarks/gpu.py --out "$OUT/gpu.json" --sizes $sizes --cpu-index-max 1000000 \
  --text-n 20000 --images 5000 --queries 10000 --single-queries 500 --recall-queries 500 \
  --copies 50 ${EXTRA:-} 2>&1 | tee "$OUT/gpu-bench.log"
echo "gpu tests exit $tests; results in $OUT"
exit "$tests"
