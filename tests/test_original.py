"""scripts/run_original.py: the shims it applies to the article's original repository, and
(with a checkout in $DEC_CHAINER_ORIGINAL) a short real run of that repository."""

import importlib.util
import json
import os
import sys

import numpy
import pytest

import chainer
from chainer import training

from conftest import ROOT

_spec = importlib.util.spec_from_file_location(
    'run_original', os.path.join(ROOT, 'scripts', 'run_original.py'))
run_original = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_original)


def test_vstack_shim_is_needed_and_scoped():
    rows = lambda: (numpy.full(2, i) for i in range(3))  # noqa: E731
    with pytest.raises(TypeError):
        numpy.vstack(rows())  # what the original's KL function does, on NumPy 2
    with run_original.vstack_accepting_iterables():
        out = numpy.vstack(rows())
        numpy.testing.assert_array_equal(numpy.vstack([numpy.ones(2)]), [[1, 1]])
    numpy.testing.assert_array_equal(out, [[0, 0], [1, 1], [2, 2]])
    with pytest.raises(TypeError):
        numpy.vstack(rows())  # restored afterwards


def test_tsne_adapter_passes_n_iter_as_max_iter(monkeypatch):
    import inspect
    import sklearn.manifold
    monkeypatch.setattr(sklearn.manifold, 'TSNE', sklearn.manifold.TSNE)
    native = 'n_iter' in inspect.signature(sklearn.manifold.TSNE.__init__).parameters
    installed = run_original.tsne_accepting_n_iter()
    assert installed is not native
    tsne = sklearn.manifold.TSNE(n_components=2, random_state=1, perplexity=5, n_iter=260)
    params = tsne.get_params()
    assert params.get('max_iter', params.get('n_iter')) == 260
    z = tsne.fit_transform(numpy.random.RandomState(0).rand(30, 4))
    assert z.shape == (30, 2)


def test_scaled_trainer_schedules_scale_iteration_triggers_only():
    model = chainer.links.Linear(2, 1)
    opt = chainer.optimizers.SGD()
    opt.setup(model)
    it = chainer.iterators.SerialIterator([(numpy.zeros(2, numpy.float32),)], 1)

    def make():
        t = training.Trainer(training.StandardUpdater(it, opt), (50000, 'iteration'))
        t.extend(lambda trainer: None, name='step', trigger=(20000, 'iteration'))
        t.extend(lambda trainer: None, name='epochly', trigger=(3, 'epoch'))
        return t

    with run_original.scaled_trainer_schedules(0.1):
        t = make()
    assert (t.stop_trigger.period, t.stop_trigger.unit) == (5000, 'iteration')
    assert t._extensions['step'].trigger.period == 2000
    assert t._extensions['epochly'].trigger.period == 3  # epochs are left alone
    t = make()  # restored
    assert t.stop_trigger.period == 50000
    assert t._extensions['step'].trigger.period == 20000


def test_offline_mnist_through_chainers_own_loader(tmp_path, monkeypatch):
    from dec_chainer.datasets import load_mnist

    def no_download(*args, **kwargs):
        raise AssertionError('tried to download')
    monkeypatch.setattr(chainer.dataset.download, 'cached_download', no_download)
    old_root = chainer.dataset.get_dataset_root()
    run_original.write_chainer_mnist_cache(str(tmp_path))
    try:
        chainer.dataset.set_dataset_root(str(tmp_path))
        train, test = chainer.datasets.get_mnist()  # what the original calls
    finally:
        chainer.dataset.set_dataset_root(old_root)
    x, y = chainer.dataset.concat_examples(train)
    assert x.shape == (60000, 784) and x.dtype == numpy.float32 and len(test) == 10000
    ours, labels = load_mnist('train', scale='unit')
    numpy.testing.assert_allclose(x, ours, atol=1e-6)
    numpy.testing.assert_array_equal(y, labels)


def test_cupy_stand_in_is_scoped(monkeypatch):
    try:
        import cupy  # noqa: F401
        has_cupy = True
    except ImportError:
        has_cupy = False
    with run_original.cupy_stand_in() as installed:
        assert installed is not has_cupy
        if installed:
            import cupy as stand_in
            with pytest.raises(RuntimeError, match='--gpu -1'):
                stand_in.zeros(3)
    if installed:
        assert 'cupy' not in sys.modules  # gone again: nothing else may find it
        with pytest.raises(RuntimeError):
            stand_in.zeros(3)  # a module that imported it meanwhile keeps it


def test_refuses_a_directory_that_is_not_the_original(tmp_path):
    with pytest.raises(FileNotFoundError, match='not a checkout'):
        run_original.run_original(str(tmp_path), str(tmp_path / 'work'))


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get('DEC_CHAINER_ORIGINAL'),
                    reason='set DEC_CHAINER_ORIGINAL to a checkout of '
                           'ymym3412/DeepEmbeddedClustering')
def test_original_runs_for_real(tmp_path):
    """Its two scripts run end to end (tiny schedule, 2 DEC steps) and get scored."""
    original = os.environ['DEC_CHAINER_ORIGINAL']
    before = run_original.checkout_digest(original)
    results = tmp_path / 'results'
    rc = run_original.main(['--original', original, '--scale', '0.002', '--stop-iter', '1',
                            '--work', str(tmp_path / 'work'), '--results', str(results)])
    assert rc == 0
    with open(results / 'original-mnist-seed0-scale0.002.json') as f:
        report = json.load(f)
    assert report['original']['python_files_sha256'] == before
    assert run_original.checkout_digest(original) == before
    for phase in ('ae_kmeans', 'dec'):
        assert 0.1 < report['metrics'][phase]['acc'] <= 1.0
    assert report['dec_steps'] == 3  # steps 0..2: it stops once i > --stop_iter
    labels = numpy.load(tmp_path / 'work' / 'labels.npy')
    assert labels.shape == (60000,) and len(numpy.unique(labels)) > 1
    assert os.path.exists(tmp_path / 'work' / 'modelseed0_seed0' / 'output_seed0_iter0.png')
