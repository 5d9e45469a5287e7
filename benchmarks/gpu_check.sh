#!/usr/bin/env bash
# The CUDA path in one command, for anyone with a GPU:
#
#   benchmarks/gpu_check.sh [--no-tests] [gpu_check options, e.g. --seconds 30 --device cuda:1]
#
# 1. runs the CUDA tests (tests/test_cuda.py: self-play, training with
#    checkpoints, resume, export, one loop iteration and eval on cuda, bf16
#    on and off), unless --no-tests;
# 2. measures self-play evals/s, mean batch and the GPU busy fraction, and
#    training steps/s (python -m blobmaster.gpu_check --help lists the options).
#
# Needs the package installed with its test extra (and, for the busy fraction,
# the gpu extra or nvidia-smi): pip install -e '.[test,gpu]'. PYTHON selects
# the interpreter (default: python). Exit status: 0 all good, 1 a failure,
# 3 no CUDA GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"

run_tests=1
args=()
for a in "$@"; do
    if [[ "$a" == "--no-tests" ]]; then run_tests=0; else args+=("$a"); fi
done

if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); nothing to check" >&2
    exit 3
fi

if [[ $run_tests == 1 ]]; then
    echo "gpu_check: CUDA tests (pytest -m cuda tests/test_cuda.py)..." >&2
    if ! "$PY" -m pytest -m cuda -q -p no:cacheprovider tests/test_cuda.py; then
        echo "gpu_check: FAILED: the CUDA tests failed (see above)" >&2
        exit 1
    fi
fi

"$PY" -m blobmaster.gpu_check "${args[@]+"${args[@]}"}" || {
    status=$?
    [[ $status == 3 ]] && exit 3
    exit 1
}
