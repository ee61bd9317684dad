"""Run directories are crash-safe and safe to open (issue 12, first part).

Every file of a run is written to a temporary name and renamed into place, in an order such
that a kill at any point resumes to the same result; no file of a run directory is ever
unpickled.
"""

import os

import numpy
import pytest

import dec_chainer
from dec_chainer import _files
from dec_chainer.datasets import load_digits

from conftest import quiet


# The paper's protocol with 20 iterations per stage ends with empty clusters, which the run
# says (a DegenerateClusteringWarning, tested in test_users_data.py); these tests are about
# the files of a run, and compare its labels with an unbroken run's.
pytestmark = pytest.mark.filterwarnings('ignore::dec_chainer.runs.DegenerateClusteringWarning')

TINY = dict(hidden_dims=(16, 16, 32, 4), layerwise_iters=20, finetune_iters=20,
            lr_step=1000, dec_max_iter=20, update_interval=10, kmeans_n_init=2,
            snapshot_interval=10, scale='unit', pretrain_samples=None)


def tiny_config():
    return dec_chainer.get_config('paper', **TINY)


@pytest.fixture(scope='module')
def data():
    X, y = load_digits()
    return X[:300], y[:300]


def fit(data, out):
    X, y = data
    return dec_chainer.fit_dec(X, y, 4, tiny_config(), out=str(out), seed=2, context=quiet())


@pytest.fixture(scope='module')
def reference(data, tmp_path_factory):
    return fit(data, tmp_path_factory.mktemp('ref')).labels


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


@pytest.mark.parametrize('victim', ['run.json', 'layer1.npz', 'layer3.json', 'finetune.npz',
                                    'kmeans.npz', 'dec_result.json', 'model.npz',
                                    'metrics.json'])
def test_a_kill_while_any_file_is_written_resumes_to_the_same_labels(
        data, reference, tmp_path, monkeypatch, victim):
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        if os.path.basename(dst) == victim and not calls:
            calls.append(dst)
            raise Killed()  # the temporary file is complete, the rename never happens
        return real_replace(src, dst)

    monkeypatch.setattr(_files.os, 'replace', replace)
    if victim == 'metrics.json':
        from dec_chainer.experiment import run_experiment

        def run():
            return run_experiment('digits', 'paper', TINY, 4, 2, str(tmp_path),
                                  quiet().replace(figures=False))[1]
        with pytest.raises(Killed):
            run()
        assert not os.path.exists(tmp_path / 'metrics.json')
        monkeypatch.setattr(_files.os, 'replace', real_replace)
        assert run()['metrics']['dec']
        return
    with pytest.raises(Killed):
        fit(data, tmp_path)
    assert calls, 'the run never wrote ' + victim
    assert not os.path.exists(calls[0])            # nothing half-written under its name
    monkeypatch.setattr(_files.os, 'replace', real_replace)
    labels = fit(data, tmp_path).labels            # the rerun resumes
    numpy.testing.assert_array_equal(labels, reference)


class _Payload:
    def __reduce__(self):
        return (os.mkdir, (os.path.join(os.environ['DEC_CHAINER_PLANT'], 'pwned'),))


def _plant(path, planted_dir):
    """Overwrite the .npz at ``path`` with one whose object array would run a payload."""
    with numpy.load(path) as f:
        arrays = dict(f)
    arrays[next(iter(arrays))] = numpy.array([_Payload()], dtype=object)
    with open(path, 'wb') as f:
        numpy.savez(f, **arrays)
    return os.path.join(planted_dir, 'pwned')


@pytest.mark.parametrize('planted', ['pretrain/finetune.npz', 'model.npz', 'snapshot'])
def test_a_planted_pickle_in_a_run_directory_is_refused_never_run(
        data, tmp_path, monkeypatch, planted):
    run = tmp_path / 'run'
    monkeypatch.setenv('DEC_CHAINER_PLANT', str(tmp_path))
    fit(data, run)
    if planted == 'snapshot':                      # a DEC phase cut short: resumes from it
        (run / 'model.npz').unlink()
        path = sorted((run / 'dec').glob('snapshot_iter_*'))[-1]
    else:
        path = run / planted
        if planted.startswith('pretrain'):         # make the rerun read the autoencoder
            (run / 'kmeans.npz').unlink()
            (run / 'model.npz').unlink()
    marker = _plant(str(path), str(tmp_path))
    with pytest.raises(ValueError, match='pickled Python objects.*never unpickles'):
        fit(data, run)
    assert not os.path.exists(marker)
    # the payload is live: what Chainer's own load_npz does (allow_pickle=True) runs it
    with numpy.load(str(path), allow_pickle=True) as f:
        [f[k] for k in f.files]
    assert os.path.exists(marker)


def test_truncated_stage_file_gets_a_clear_error(data, tmp_path):
    fit(data, tmp_path)
    (tmp_path / 'model.npz').write_bytes(b'PK\x03\x04 truncated')
    with pytest.raises(ValueError, match='model.npz is not a readable .npz file.*delete it'):
        fit(data, tmp_path)


def test_a_run_directory_refuses_other_data_of_the_same_shape(data, tmp_path):
    from dec_chainer.runs import check_pretrained
    X, y = data
    fit(data, tmp_path)
    other = (X[::-1].copy(), y[::-1].copy())         # same shape, same values, other order
    with pytest.raises(ValueError, match='different configuration or data.*data_blake2b'):
        fit(other, tmp_path)
    with pytest.raises(ValueError, match='pretrained a different autoencoder.*'
                                         'pretrain_data_blake2b'):
        check_pretrained(str(tmp_path), tiny_config(), 2, other[0])
    assert check_pretrained(str(tmp_path), tiny_config(), 2, X)  # the same data: reusable


def test_one_process_at_a_time_owns_a_run_directory(data, tmp_path):
    from dec_chainer.runs import own_run_dir
    with own_run_dir(str(tmp_path)):                  # as another run would hold it
        with pytest.raises(RuntimeError, match='run directory .* is in use by process '
                                               '{}'.format(os.getpid())):
            fit(data, tmp_path)
    fit(data, tmp_path)                               # released: the run goes ahead


@pytest.mark.slow
def test_sigkill_midway_then_the_same_command_ends_where_an_unbroken_run_does(tmp_path):
    """A real SIGKILL (not an injected fault) in the middle of fine-tuning: the same command
    resumes from the last snapshot and ends with the labels of an uninterrupted run."""
    import signal
    import subprocess
    import sys
    import time
    settings = ['--set', 'hidden_dims=[32,32,64,10]', 'finetune_iters=600',
                'snapshot_interval=50', 'dec_max_iter=40', 'update_interval=20',
                'kmeans_n_init=2']

    def command(out):
        return [sys.executable, '-m', 'dec_chainer', 'train', '--dataset', 'digits',
                '--seed', '5', '--out', str(out), '--no-progress', '--no-figures'] + settings

    subprocess.run(command(tmp_path / 'whole'), check=True, capture_output=True, timeout=600)
    victim = subprocess.Popen(command(tmp_path / 'killed'), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    snapshots = tmp_path / 'killed' / 'pretrain' / 'finetune'
    deadline = time.time() + 300
    while not (snapshots.is_dir() and any(p.name.startswith('snapshot_iter_')
                                          for p in snapshots.iterdir())):
        assert victim.poll() is None and time.time() < deadline, 'no snapshot appeared'
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)
    assert not (snapshots.parent / 'finetune.npz').exists()  # killed midway
    resumed = subprocess.run(command(tmp_path / 'killed'), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert '[resume]' in resumed.stdout
    numpy.testing.assert_array_equal(numpy.load(tmp_path / 'killed' / 'labels.npy'),
                                     numpy.load(tmp_path / 'whole' / 'labels.npy'))


def test_provenance_records_only_the_projects_own_commit(tmp_path):
    """A commit is recorded from the project's checkout, never from a repository that
    merely encloses the package (an installed copy inside another project)."""
    import subprocess
    from dec_chainer.provenance import git_commit
    from conftest import ROOT
    here = git_commit()
    assert here and len(here.split('+')[0]) == 40
    assert git_commit(ROOT) == here
    outer = tmp_path / 'other-project'
    package = outer / 'venv' / 'site-packages'
    package.mkdir(parents=True)
    subprocess.run(['git', 'init', '-q', str(outer)], check=True)
    subprocess.run(['git', '-C', str(outer), '-c', 'user.email=a@b', '-c', 'user.name=a',
                    'commit', '-q', '--allow-empty', '-m', 'x'], check=True)
    assert git_commit(str(package)) is None
    assert git_commit(str(outer)) and git_commit(str(outer)) != here
