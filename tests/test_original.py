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


def test_print_report_writes_to_the_current_stdout_while_scoped(monkeypatch, capsys):
    import io
    from chainer.training import extensions
    captured = io.StringIO()
    monkeypatch.setattr(sys, 'stdout', captured)
    assert extensions.PrintReport(['iteration'])._out is not captured  # import-time stdout
    with run_original.print_report_to_current_stdout():
        assert extensions.PrintReport(['iteration'])._out is captured
        other = io.StringIO()
        assert extensions.PrintReport(['iteration'], out=other)._out is other
    assert extensions.PrintReport(['iteration'])._out is not captured  # restored


PRINTED = """Layer-Wise Pretrain
Layer 1
iteration   main/loss   elapsed_time
\x1b[J235         0.0664609   5.55395
\x1b[J469         0.0450166   10.2722
Layer 2
iteration   main/loss   elapsed_time
\x1b[J235         1.5e-02   4.1
fine tuning
iteration   main/loss   elapsed_time
\x1b[J235         0.031   9.0
train DEC
Epoch 1
loss 2226.0
new labels
diff 0.8856666666666667
Epoch 2
loss 2210.5
Couldn't reach tol
"""


def test_parse_printed_log_reads_its_tables_and_dec_loop():
    stages, dec = run_original.parse_printed_log(PRINTED)
    assert list(stages) == ['layer1', 'layer2', 'finetune']
    assert stages['layer1'] == [
        {'iteration': 235, 'main/loss': 0.0664609, 'elapsed_time': 5.55395},
        {'iteration': 469, 'main/loss': 0.0450166, 'elapsed_time': 10.2722}]
    assert stages['layer2'][0]['main/loss'] == 0.015
    assert dec == [{'step': 1, 'loss': 2226.0, 'label_change': 0.8856666666666667},
                   {'step': 2, 'loss': 2210.5}]


def test_an_invocation_that_reruns_no_phase_keeps_the_earlier_times(tmp_path):
    path = tmp_path / 'report.json'
    run_original.carry_over_phases({'seconds': {}}, str(path))  # no earlier report: no-op
    earlier = {'seconds': {'pretrain': 5000.0, 'dec': 300.0, 'scoring': 20.0, 'total': 5320.0},
               'provenance': {'git_commit': 'abc'}, 'metrics': {'dec': {'acc': 0.5}}}
    path.write_text(json.dumps(earlier))
    report = {'seconds': {'scoring': 21.0, 'figures': 9.0}, 'metrics': {'dec': {'acc': 0.5}}}
    run_original.carry_over_phases(report, str(path))
    assert report['seconds'] == {'pretrain': 5000.0, 'dec': 300.0, 'scoring': 21.0,
                                 'figures': 9.0}
    assert report['earlier']['phases'] == ['pretrain', 'dec']
    assert report['earlier']['provenance'] == {'git_commit': 'abc'}
    path.write_text(json.dumps(report))  # a third invocation: the phases' origin stays
    third = {'seconds': {'scoring': 20.5}}
    run_original.carry_over_phases(third, str(path))
    assert third['earlier']['provenance'] == {'git_commit': 'abc'}
    assert third['seconds']['pretrain'] == 5000.0
    rerun = {'seconds': {'pretrain': 10.0, 'dec': 2.0, 'scoring': 1.0}}
    run_original.carry_over_phases(rerun, str(path))  # it ran them itself: its own times
    assert rerun['seconds']['pretrain'] == 10.0 and 'earlier' not in rerun


@pytest.mark.slow
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
    """Its two scripts run end to end (1/200 of its schedule: an epoch per stage; 3 DEC
    steps), get scored and drawn."""
    original = os.environ['DEC_CHAINER_ORIGINAL']
    before = run_original.checkout_digest(original)
    results = tmp_path / 'results'
    rc = run_original.main(['--original', original, '--scale', '0.005', '--stop-iter', '1',
                            '--work', str(tmp_path / 'work'), '--results', str(results)])
    assert rc == 0
    with open(results / 'original-mnist-seed0-scale0.005.json') as f:
        report = json.load(f)
    assert report['original']['python_files_sha256'] == before
    assert run_original.checkout_digest(original) == before
    for phase in ('ae_kmeans', 'dec'):
        assert 0.1 < report['metrics'][phase]['acc'] <= 1.0
    assert report['dec_steps'] == 3  # steps 0..2: it stops once i > --stop_iter
    labels = numpy.load(tmp_path / 'work' / 'labels.npy')
    assert labels.shape == (60000,) and len(numpy.unique(labels)) > 1
    assert os.path.exists(tmp_path / 'work' / 'modelseed0_seed0' / 'output_seed0_iter0.png')
    # its tables reach its log; the curves and the other figures are drawn from it
    with open(tmp_path / 'work' / 'pretraining.log') as f:
        stages, _ = run_original.parse_printed_log(f.read())
    assert set(stages) == {'layer1', 'layer2', 'layer3', 'layer4', 'finetune'}
    assert all(stages[s] for s in stages)
    for name in ('tsne', 'curves', 'confusion', 'its_tsne'):
        assert report['figures'][name] == 'figures-scale0.005/{}.png'.format(name)
        assert os.path.getsize(results / report['figures'][name]) > 1000
    # a second invocation reruns no phase, keeps their times and scores the same models
    rc = run_original.main(['--original', original, '--scale', '0.005', '--no-figures',
                            '--work', str(tmp_path / 'work'), '--results', str(results)])
    with open(results / 'original-mnist-seed0-scale0.005.json') as f:
        again = json.load(f)
    assert again['earlier']['phases'] == ['pretrain', 'dec']
    assert again['seconds']['pretrain'] == report['seconds']['pretrain']
    assert again['metrics'] == report['metrics']
