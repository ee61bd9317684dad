#!/usr/bin/env bash
# The main job, from nothing: build .venv if needed, then run on the bundled MNIST
# (all 70,000 digits, offline) and print the results table. Extra arguments go to it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup_env.sh"
exec "$root/.venv/bin/dec-chainer" baseline --dataset mnist "$@"
