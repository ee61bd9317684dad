#!/usr/bin/env bash
# One-shot GPU check: the full paper schedule on MNIST for seeds 0-4 at once (SEEDS; each
# stopped after FULL_BUDGET seconds in this call, resumed by the next), the GPU tests beside
# them, then bench_kl (fused vs unfused kernels) on the idle GPU and a table of the runs.
# Every log goes under $OUT (or the directory given as the first argument).
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
  seeds=${SEEDS:-0 1}
  budget=${FULL_BUDGET:-300}
  overrides=(layerwise_iters=3 finetune_iters=6 lr_step=2 dec_max_iter=160)  # a smoke test
else
  py=python3
  device=0
  seeds=${SEEDS:-0 1 2 3 4}
  budget=${FULL_BUDGET:-420}
  overrides=()
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
# The full paper schedule for several seeds at once on the one GPU (a process each: a run
# of this small network is bound by kernel launches and Python, not by the GPU). Each run
# has its own directory under runs/gpu/, kept on a warm machine between calls: a run that
# the time budget of this call stops resumes from its last snapshot when the script is
# called again. Reports (JSON, DEC log) go to $out/paper/, each run's output to $out.
echo "== full paper schedule, seeds ${SEEDS:-0 1 2 3 4}, at most $budget s in this call"
runs_dir="$root/runs/gpu"
mkdir -p "$runs_dir" "$out/paper"
start=$(date +%s)
pids=()
for s in $seeds; do
  OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 timeout "$budget" \
    "$py" -m dec_chainer train --preset paper --dataset mnist --seed "$s" --device "$device" \
    --out "$runs_dir/paper-mnist-s$s" --results "$out/paper" --name "paper-mnist-seed$s" \
    --no-progress --set snapshot_interval=20000 "${overrides[@]}" \
    > "$out/paper-mnist-seed$s.log" 2>&1 &
  pids+=("$!")
done

echo "== GPU tests (beside the runs)"
if [ "$cpu" = 1 ]; then
  echo "(--cpu: the GPU tests are skipped here; collecting them only)"
  "$py" -m pytest -q --collect-only -m gpu tests | tail -3 || status=1
else
  "$py" -m pytest -q -m gpu tests -p no:cacheprovider || status=1
fi
for pid in "${pids[@]}"; do wait "$pid"; done
end=$(date +%s)

if [ -f scripts/bench_kl.py ]; then
  echo "== bench_kl (fused vs unfused kernels; after the runs, on an idle GPU)"
  "$py" scripts/bench_kl.py --device "$device" --out "$out" || status=1
fi

echo "== the runs"
"$py" - "$out/paper" $seeds <<'PY' || status=1
import json, os, sys
out, seeds = sys.argv[1], sys.argv[2:]
done = []
for s in seeds:
    path = os.path.join(out, 'paper-mnist-seed{}.json'.format(s))
    if not os.path.exists(path):
        print('seed {}: not finished in this call (call the script again: it resumes)'.format(s))
        continue
    r = json.load(open(path))
    m, sec = r['metrics'], r['seconds']
    done.append(m['dec']['acc'])
    print('seed {}: AE+k-means ACC {:.4f}, DEC ACC {:.4f} NMI {:.4f} ARI {:.4f}; pretrain {:.0f} s, '
          'k-means {:.0f} s, DEC {:.0f} s'.format(s, m['ae_kmeans']['acc'], m['dec']['acc'],
                                                  m['dec']['nmi'], m['dec']['ari'],
                                                  sec['pretrain'], sec['kmeans'], sec['dec']))
if done:
    import statistics
    print('DEC ACC over {} seeds: mean {:.4f}, sd {:.4f}, best {:.4f} (paper: 0.8430, the best '
          'of 9 update intervals)'.format(len(done), statistics.mean(done),
                                          statistics.stdev(done) if len(done) > 1 else 0.0,
                                          max(done)))
PY
echo "== done (status $status) in $((end - start)) s of training; logs in $out"
exit $status
