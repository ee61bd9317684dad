#!/usr/bin/env bash
# The main job, from nothing: build .venv if needed, then run on the bundled MNIST
# (all 70,000 digits, offline): the quick DEC preset, with progress bars, ending in a
# results table. Extra arguments go to `dec-chainer train`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup_env.sh"
exec "$root/.venv/bin/dec-chainer" train --dataset mnist --preset quick "$@"
