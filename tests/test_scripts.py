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
    'run_imbalance.py': (['--dataset', 'digits', '--r-min', '0.5', '--no-progress', '--set',
                          'hidden_dims=[16,16,32,10]', 'finetune_iters=30', 'dec_max_iter=10',
                          'update_interval=5', 'kmeans_n_init=1'], 'imbalance-quick-seed0'),
    'run_ablation.py': (['--dataset', 'digits', '--no-progress', '--only', 'article',
                         'kernel', '--name', 'ablation', '--set', 'hidden_dims=[16,16,32,10]',
                         'layerwise_iters=20', 'finetune_iters=30', 'dec_max_iter=10',
                         'update_interval=5', 'kmeans_n_init=1'], 'ablation'),
}


def test_every_bench_and_run_script_has_a_tiny_run():
    runnable = {os.path.basename(p) for p in SCRIPTS
                if os.path.basename(p).startswith(('bench_', 'run_'))}
    # run_original.py needs a clone of the original repository: tests/test_original.py;
    # run_paper_protocol.py a pretrained autoencoder: its own test below
    assert runnable - {'run_original.py', 'run_paper_protocol.py'} == set(TINY_RUNS)


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


@pytest.mark.slow
def test_run_imbalance_keeps_the_rows_of_earlier_commands(tmp_path):
    """Subsets run by separate commands make one table: a second command's r_min values
    join the first's rows, each row with the command that made it; a table made with other
    settings is replaced, not mixed in."""
    import json
    args, stem = TINY_RUNS['run_imbalance.py']
    assert args[2:4] == ['--r-min', '0.5'] and args[-6] == '--set'  # its settings last

    def run(r_min, *more_settings):  # other settings: another run directory
        r = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', 'run_imbalance.py')]
                           + args[:2] + args[4:] + list(more_settings) + ['--results',
                           str(tmp_path), '--out', str(tmp_path / 'runs' / str(len(
                               more_settings))), '--r-min'] + r_min,
                           capture_output=True, text=True, cwd=str(tmp_path),
                           env=dict(os.environ, OPENBLAS_NUM_THREADS='1'), timeout=300)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        rows = json.loads((tmp_path / (stem + '.json')).read_text())['rows']
        return [(row['r_min'], row['provenance']['command'].split()[-1]) for row in rows]
    assert run(['0.5']) == [(0.5, '0.5')]
    assert run(['0.9', '0.1']) == [(0.1, '0.1'), (0.5, '0.5'), (0.9, '0.1')]
    assert run(['0.9'], 'dec_max_iter=8') == [(0.9, '0.9')]


@pytest.mark.slow
def test_paper_protocol_runs_only_dec_on_the_given_autoencoder(tmp_path):
    """Each part of run_paper_protocol.py on a tiny digits autoencoder: every job reuses it
    (none pretrains), the lambda table has the nine update intervals and its best of nine,
    the seeds part five k-means starts at 160 and at the best lambda, and an autoencoder
    made with other settings is refused in one line before anything runs."""
    import json
    from dec_chainer import fit_dec, get_config
    from dec_chainer.datasets import load_dataset
    from conftest import quiet
    tiny = ['hidden_dims=[16,16,32,10]', 'layerwise_iters=20', 'finetune_iters=30']
    config = get_config('paper', hidden_dims=(16, 16, 32, 10), layerwise_iters=20,
                        finetune_iters=30)
    fit_dec(load_dataset('digits', config.scale)[0], None, 10, config, str(tmp_path / 'ae'),
            context=quiet(), stop_after='pretrain')

    def run(part, *settings):
        return subprocess.run(
            [sys.executable, os.path.join(ROOT, 'scripts', 'run_paper_protocol.py'), part,
             '--dataset', 'digits', '--pretrained', str(tmp_path / 'ae'), '--no-progress',
             '--out', str(tmp_path / 'runs'), '--results', str(tmp_path), '--set'] +
            list(settings), capture_output=True, text=True, cwd=str(tmp_path), timeout=300,
            env=dict(os.environ, OPENBLAS_NUM_THREADS='1'))

    short = tiny + ['dec_max_iter=10', 'kmeans_n_init=1']
    for part in ('lambda', 'seeds', 'frozen'):
        r = run(part, *short)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    pages = {part: json.loads((tmp_path / (part + '.json')).read_text())
             for part in ('lambda', 'seeds', 'frozen')}
    rows = sum((page['rows'] for page in pages.values()), [])
    assert all(row['pretrained_from'] for row in rows)
    assert not any(os.path.exists(tmp_path / 'runs' / part / row['name'] / 'pretrain' / 'layer1')
                   for part in pages for row in pages[part]['rows'])
    assert [row['lambda'] for row in pages['lambda']['rows']] == [10 * 2 ** i for i in range(9)]
    assert 'best of 9' in (tmp_path / 'lambda.md').read_text()
    best = max(pages['lambda']['rows'], key=lambda row: row['acc'])['lambda']
    assert sorted((row['lambda'], row['cluster_seed']) for row in pages['seeds']['rows']) == \
        sorted((lam, s) for lam in {160, best} for s in range(5))
    assert 'without backpropagation' in pages['frozen']['summary'][0]
    r = run('frozen', 'hidden_dims=[16,16,32,10]')  # another pretraining schedule
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert 'pretrained a different autoencoder' in r.stderr
