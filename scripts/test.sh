#!/usr/bin/env bash
# The test suite, from nothing: build .venv if needed, then run pytest (GPU tests skip
# themselves without a GPU). Extra arguments go to pytest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/setup_env.sh" --mpi  # MPI too: tests/test_mpi.py runs mpiexec -n 2
cd "$root"
exec "$root/.venv/bin/python" -m pytest -q tests "$@"
