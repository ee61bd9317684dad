"""Every Python script under scripts/ starts and documents itself (``--help``): an import
error or a broken argument parser in a script nobody runs in the suite shows here."""

import glob
import os
import subprocess
import sys

import pytest

from conftest import ROOT

SCRIPTS = sorted(p for p in glob.glob(os.path.join(ROOT, 'scripts', '*.py'))
                 if not os.path.basename(p).startswith('_'))  # _bench.py: their helper


def test_every_script_is_listed():
    names = {os.path.basename(p) for p in SCRIPTS}
    assert {'bench_kl.py', 'bench_train.py', 'run_ablation.py', 'ship_pretrained.py',
            'summarize_results.py'} <= names


@pytest.mark.parametrize('script', SCRIPTS, ids=os.path.basename)
def test_script_help(script):
    r = subprocess.run([sys.executable, script, '--help'], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('usage: ') and '--help' in r.stdout


#: A tiny run of each benchmark and run script (seconds each): it runs its real code path
#: end to end and writes its tables, which is what breaks when an API under it changes.
TINY_RUNS = {
    'bench_kl.py': (['--sizes', '200', '--repeat', '1', '--no-memory'], 'bench_kl'),
    'bench_train.py': (['--iters', '2', '--no-stages'], 'bench_train'),
    'bench_host.py': (['--minutes', '0.05', '--every', '1'], 'bench_host'),
    'bench_blas.py': (['--rounds', '1', '--seconds', '1', '--kernels', 'Haswell'],
                      'bench_blas'),
    'bench_mpi.py': (['--procs', '1', '2', '--iters', '2', '--memory'], 'bench_mpi'),
    'run_ablation.py': (['--dataset', 'digits', '--no-progress', '--only', 'article',
                         'kernel', '--name', 'ablation', '--set', 'hidden_dims=[16,16,32,10]',
                         'layerwise_iters=20', 'finetune_iters=30', 'dec_max_iter=10',
                         'update_interval=5', 'kmeans_n_init=1'], 'ablation'),
}


def test_every_bench_and_run_script_has_a_tiny_run():
    runnable = {os.path.basename(p) for p in SCRIPTS
                if os.path.basename(p).startswith(('bench_', 'run_'))}
    # run_original.py needs a clone of the original repository: tests/test_original.py
    assert runnable - {'run_original.py'} == set(TINY_RUNS)


@pytest.mark.slow
@pytest.mark.parametrize('script', sorted(TINY_RUNS))
def test_script_tiny_run(script, tmp_path):
    args, stem = TINY_RUNS[script]
    out = ['--results', str(tmp_path), '--out', str(tmp_path / 'runs')] \
        if script.startswith('run_') else ['--out', str(tmp_path)]
    if script == 'bench_mpi.py':
        pytest.importorskip('mpi4py')
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1', OMPI_ALLOW_RUN_AS_ROOT='1',
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1', OMPI_MCA_mpi_yield_when_idle='1')
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', script)] + args + out,
                       capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for suffix in ('.json', '.md'):
        assert (tmp_path / (stem + suffix)).stat().st_size > 0, sorted(os.listdir(tmp_path))
