#!/usr/bin/env bash
# One-shot GPU check: the GPU tests, then a short timed DEC run on MNIST with the paper
# preset (schedule scaled by SCALE, with the projection to the full schedule). Every log goes
# under $OUT (or the directory given as the first argument).
#
# On the GPU machine (python3 with NumPy 2, CuPy 14; nothing can be downloaded there):
#   carry .whl (scripts/build_gpu_wheels.sh builds it) and run   bash scripts/gpu_check.sh
# Here, to check that the script runs to the end on the CPU:  bash scripts/gpu_check.sh --cpu
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

cpu=0
dest=""
for arg in "$@"; do
  case "$arg" in
    --cpu) cpu=1 ;;
    *) dest="$arg" ;;
  esac
done
out="${dest:-${OUT:-$root/results/gpu/local}}"
mkdir -p "$out"
log="$out/gpu_check.log"
exec > >(tee "$log") 2>&1
export PYTHONUNBUFFERED=1

if [ "$cpu" = 1 ]; then
  py="$root/.venv/bin/python"
  [ -x "$py" ] || bash scripts/setup_env.sh
  device=-1
  scale=${SCALE:-0.002}
else
  py=python3
  device=0
  scale=${SCALE:-0.05}
  if ! "$py" -c 'import chainer' 2>/dev/null; then
    ls .whl/*.whl >/dev/null 2>&1 || { echo "no Chainer here and no .whl/ to install it from"; exit 1; }
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site:$root${PYTHONPATH:+:$PYTHONPATH}"
  fi
  export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
fi

echo "== machine"
date -u
(nvidia-smi || true) 2>&1 | head -15
"$py" -c 'import dec_chainer.cli as c; print(c.version_string())'
"$py" - <<'PY'
import chainer
from chainer.backends import cuda
print('cupy available to chainer:', cuda.available, ' cudnn:', cuda.cudnn_enabled,
      ' use_cudnn:', chainer.config.use_cudnn)
PY

status=0
echo "== GPU tests"
if [ "$cpu" = 1 ]; then
  echo "(--cpu: the GPU tests are skipped here; collecting them only)"
  "$py" -m pytest -q --collect-only -m gpu tests | tail -3 || status=1
else
  "$py" -m pytest -q -m gpu tests -p no:cacheprovider || status=1
fi

if [ -f scripts/bench_kl.py ]; then
  echo "== bench_kl"
  "$py" scripts/bench_kl.py --device "$device" --out "$out" || status=1
fi

echo "== timed MNIST run, paper preset, schedule x $scale"
li=$("$py" -c "print(max(1, round(50000 * $scale)))")
fi_=$("$py" -c "print(max(1, round(100000 * $scale)))")
di=$("$py" -c "print(max(160, round(20000 * $scale)))")
start=$(date +%s)
"$py" -m dec_chainer train --preset paper --dataset mnist --seed 0 --device "$device" \
  --out "$out/run-paper" --results "$out" --name paper-mnist-scaled --no-progress \
  --set layerwise_iters="$li" finetune_iters="$fi_" dec_max_iter="$di" \
  lr_step="$("$py" -c "print(max(1, round(20000 * $scale)))")" || status=1
end=$(date +%s)
"$py" - "$out/paper-mnist-scaled.json" <<'PY' || status=1
import json, sys
r = json.load(open(sys.argv[1]))
s = r['seconds']
print('wall time: pretrain {pretrain:.0f} s, k-means {kmeans:.0f} s, DEC {dec:.0f} s, '
      'total {total:.0f} s'.format(**s))
# wall time per pretraining iteration (the layer-wise stages and fine-tuning together)
per_it = s['pretrain'] / (r['config']['layerwise_iters'] * 4 + r['config']['finetune_iters'])
print('pretraining: {:.2f} ms per iteration -> the full paper schedule (300,000 '
      'iterations) would take {:.1f} min of pretraining'.format(1e3 * per_it,
                                                                300000 * per_it / 60))
print('metrics:', json.dumps(r['metrics']))
PY
echo "== done (status $status) in $((end - start)) s of training; logs in $out"
exit $status
