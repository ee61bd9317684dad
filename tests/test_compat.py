"""Each compatibility patch is applied only where the stack needs it, and is needed there.

The "needed" tests re-run an import with one patch skipped (DEC_CHAINER_COMPAT_SKIP) in a
fresh interpreter and check that Chainer breaks the way the patch's docstring says.
"""

import subprocess
import sys

import numpy
import pytest

import chainer
import chainer.functions as F
from dec_chainer import _compat

from conftest import ROOT, run_python

NUMPY2 = int(numpy.__version__.split('.')[0]) >= 2


def skip_one(name, code):
    return run_python(code, env={'DEC_CHAINER_COMPAT_SKIP': name})


def test_stack_is_modern():
    assert NUMPY2, numpy.__version__
    assert chainer.__version__ == '7.8.1'


def test_applied_patches_match_stack():
    assert ('numpy_sctypes' in _compat.APPLIED) == _compat._needs_sctypes()
    assert ('summary_float64' in _compat.APPLIED) == _compat._needs_summary_float64()
    assert ('testing_pkg_resources' in _compat.APPLIED) == \
        _compat._needs_testing_pkg_resources()


# -- numpy_sctypes -----------------------------------------------------------------------

@pytest.mark.skipif(not _compat._needs_sctypes(), reason='this NumPy still has sctypes')
def test_sctypes_patch_is_needed():
    r = skip_one('numpy_sctypes', 'import dec_chainer')
    assert r.returncode != 0
    assert 'sctypes' in r.stderr


def test_sctypes_not_left_on_numpy():
    """The table lives only in as_strided's module namespace: NumPy, before and after
    Chainer imports, has sctypes exactly when it had it on its own (a fresh interpreter)."""
    r = run_python('import sys, numpy; before = hasattr(numpy, "sctypes"); '
                   'import dec_chainer, chainer.functions; '
                   'a = sys.modules["chainer.functions.array.as_strided"]; '
                   'print(before, hasattr(numpy, "sctypes"), "float" in a.np.sctypes)')
    assert r.returncode == 0, r.stderr
    before, after, seen = r.stdout.split()
    assert before == after and seen == 'True'


def test_as_strided_forward_backward_works():
    x = chainer.Variable(numpy.arange(12, dtype=numpy.float32))
    y = F.as_strided(x, (3, 4), (4, 1))
    y.grad = numpy.ones((3, 4), dtype=numpy.float32)
    y.backward()
    numpy.testing.assert_array_equal(y.array, numpy.arange(12).reshape(3, 4))
    numpy.testing.assert_array_equal(x.grad, numpy.ones(12))


# -- environment_check -------------------------------------------------------------------

@pytest.mark.skipif(not _compat._needs_environment_check(),
                    reason='numpy.distutils and pkg_resources are both importable here')
def test_environment_check_patch_is_needed():
    r = skip_one('environment_check', 'import dec_chainer')
    assert r.returncode != 0
    assert 'ModuleNotFoundError' in r.stderr
    assert ('pkg_resources' in r.stderr) or ('distutils' in r.stderr)


def test_chainer_imports_cleanly_in_fresh_interpreter():
    r = run_python('import warnings; warnings.simplefilter("error"); import dec_chainer; '
                   'import chainer; print(chainer.__version__)')
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '7.8.1'


CHECK_PATCHED = (
    'import sys, numpy, chainer, chainer.testing, chainer.gradient_check; '
    'from dec_chainer import _compat; '
    'print(chainer.__version__, hasattr(numpy, "sctypes"), '
    '"pkg_resources" in sys.modules, sorted(_compat.APPLIED) == sorted(set(_compat.APPLIED)), '
    'chainer.reporter.Summary.add._dec_chainer_float64, '
    'sys.modules["chainer.functions.array.as_strided"].np.sctypes["float"][1].__name__)')


@pytest.mark.parametrize('first', ['chainer', 'dec_chainer'])
def test_import_order_does_not_matter(first):
    """``import chainer`` first works too: the installed .pth file starts the import hook,
    which applies the same patches, once, and leaves NumPy without ``sctypes``."""
    second = 'dec_chainer' if first == 'chainer' else 'chainer'
    r = run_python('import warnings; warnings.simplefilter("error"); import {}; import {}; '
                   .format(first, second) + CHECK_PATCHED)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ['7.8.1', 'False', 'False', 'True', 'True', 'float32']


def test_import_hook_loads_nothing_at_startup():
    """The .pth file runs at every interpreter start: it must not import NumPy or Chainer."""
    r = run_python('import sys; print("numpy" in sys.modules, "chainer" in sys.modules, '
                   'sorted(type(f).__name__ for f in sys.meta_path '
                   'if "Chainer" in type(f).__name__))')
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ['False', 'False', "['ChainerCompatFinder']"]


def test_import_hook_without_pth(tmp_path):
    """Without the hook (``python -S`` skips .pth files), ``import chainer`` first fails as
    Chainer 7.8.1 does on NumPy 2: the hook is what makes that order work."""
    site = run_python('import sysconfig; print(sysconfig.get_paths()["purelib"])').stdout.strip()
    r = subprocess.run([sys.executable, '-S', '-c',
                        'import sys; sys.path.append({!r}); sys.path.insert(0, {!r}); '
                        'import chainer'.format(site, ROOT)],
                       capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode != 0 and 'sctypes' in r.stderr


# -- testing_pkg_resources ---------------------------------------------------------------

@pytest.mark.skipif(not _compat._needs_testing_pkg_resources(),
                    reason='setuptools provides pkg_resources here')
def test_testing_patch_is_needed():
    r = skip_one('testing_pkg_resources', 'import dec_chainer, chainer.gradient_check')
    assert r.returncode != 0
    assert "No module named 'pkg_resources'" in r.stderr


def test_gradient_check_works_and_stand_in_stays_private():
    from chainer import gradient_check, testing
    rng = numpy.random.RandomState(0)
    x = rng.randn(3, 4)
    gy = rng.randn(3, 4)
    gradient_check.check_backward(F.sigmoid, x, gy, dtype=numpy.float64)
    # a wrong gradient must be caught, or the check above proves nothing
    with pytest.raises(AssertionError):
        gradient_check.check_backward(lambda v: _WrongGrad().apply((v,))[0], x, gy,
                                      dtype=numpy.float64)
    assert testing.with_requires('numpy>=2') is not None
    if _compat._needs_testing_pkg_resources():
        assert 'pkg_resources' not in sys.modules
        with pytest.raises(ImportError):
            import pkg_resources  # noqa: F401


def test_with_requires_evaluates_versions():
    if not _compat._needs_testing_pkg_resources():
        pytest.skip('real pkg_resources in use')
    from chainer.testing import helper
    ws = helper.pkg_resources.WorkingSet()
    ws.require('numpy>=2')
    with pytest.raises(helper.pkg_resources.ResolutionError):
        ws.require('numpy<1')
    with pytest.raises(helper.pkg_resources.ResolutionError):
        ws.require('surely-not-an-installed-distribution')


class _WrongGrad(chainer.FunctionNode):
    """x**2 with the gradient off by a factor of 2."""

    def forward(self, inputs):
        self.retain_inputs((0,))
        return inputs[0] ** 2,

    def backward(self, indexes, grad_outputs):
        x, = self.get_retained_inputs()
        return grad_outputs[0] * x,


# -- summary_float64 ---------------------------------------------------------------------

SUMMARY_CODE = '''
import numpy, dec_chainer, chainer
values = (1000 + numpy.random.RandomState(0).uniform(-1, 1, 200000)).astype(numpy.float32)
s = chainer.reporter.DictSummary()
for v in values:
    s.add({"main/loss": v})
mean = float(s.compute_mean()["main/loss"])
exact = values.astype(numpy.float64).mean()
std = float(s.make_statistics()["main/loss.std"])
print(abs(mean - exact) / exact, std)
'''


def test_summary_mean_is_exact():
    r = run_python(SUMMARY_CODE)
    assert r.returncode == 0, r.stderr
    rel, std = map(float, r.stdout.split())
    assert rel < 1e-6
    assert 0.5 < std < 0.65  # uniform(-1, 1): sd 1/sqrt(3) = 0.577


@pytest.mark.skipif(not _compat._needs_summary_float64(), reason='NumPy 1 promotion rules')
def test_summary_patch_is_needed():
    r = skip_one('summary_float64', SUMMARY_CODE)
    assert r.returncode == 0, r.stderr
    rel = float(r.stdout.split()[0])
    assert rel > 1e-6


# -- cudnn_off ---------------------------------------------------------------------------

def test_cudnn_check_follows_cupy(monkeypatch):
    import importlib
    present = {'cupy'}
    monkeypatch.setattr(_compat, '_importable', lambda name: name in present)

    def fake_import(name):
        if name.startswith('cupy.cud'):
            raise ImportError('no cuDNN in this CuPy')
        return None

    monkeypatch.setattr(importlib, 'import_module', fake_import)
    assert _compat._needs_cudnn_off()
    monkeypatch.setattr(importlib, 'import_module', lambda name: None)
    assert not _compat._needs_cudnn_off()
    present.clear()
    assert not _compat._needs_cudnn_off()


@pytest.mark.gpu
def test_gpu_functions_run_without_cudnn():
    import cupy
    x = chainer.Variable(cupy.random.randn(64, 32).astype(cupy.float32))
    lin = chainer.links.Linear(32, 16)
    lin.to_gpu()
    with chainer.using_config('train', True):
        y = F.relu(F.dropout(lin(x), 0.2))
    F.sum(y).backward()
    assert cupy.isfinite(lin.W.grad).all()
    if 'cudnn_off' in _compat.APPLIED:
        assert chainer.config.use_cudnn == 'never'


# -- chainermn_aggregator ----------------------------------------------------------------

AGGREGATOR_CODE = '''
import dec_chainer, chainer, numpy
from dec_chainer import _compat
_compat.patch_chainermn()
from chainermn.extensions import ObservationAggregator

class OneRank:  # the two calls the aggregator makes, for a job of one process
    rank = 0
    def gather_obj(self, obj):
        return [obj]
    def bcast_obj(self, obj):
        return obj

class Trainer:
    observation = {'main/loss': chainer.Variable(numpy.array(2.5, numpy.float32))}
    class updater:
        iteration, epoch, epoch_detail, is_new_epoch = 1, 0, 0.01, False

trainer = Trainer()
ObservationAggregator(OneRank(), 'main/loss')(trainer)
print(float(trainer.observation['main/loss']))
'''


@pytest.mark.skipif(not _compat._needs_chainermn_aggregator(), reason='ChainerX is built')
def test_observation_aggregator_averages_a_loss_variable():
    r = run_python(AGGREGATOR_CODE)
    assert r.returncode == 0, r.stderr
    assert float(r.stdout) == 2.5


@pytest.mark.skipif(not _compat._needs_chainermn_aggregator(), reason='ChainerX is built')
def test_chainermn_aggregator_patch_is_needed():
    r = skip_one('chainermn_aggregator', AGGREGATOR_CODE)
    assert r.returncode != 0
    assert 'to_device' in r.stderr or 'native' in r.stderr
