import pickle
import warnings

import numpy
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.exceptions import NotFittedError

from dec_chainer import DEC
from dec_chainer.datasets import load_digits

SMALL = dict(finetune_iters=300, dec_max_iter=120, kmeans_n_init=3, lr_step=1000)


def small_dec(**kw):
    args = dict(n_clusters=10, dims=(64, 64, 128, 10), preset='quick', update_interval=30,
                config=SMALL, random_state=0)
    args.update(kw)
    return DEC(**args)


@pytest.fixture(scope='module')
def digits():
    return load_digits()


@pytest.fixture(scope='module')
def fitted(digits):
    X, y = digits
    with warnings.catch_warnings():  # 120 iterations may or may not settle, by kernel
        warnings.simplefilter('ignore', ConvergenceWarning)
        return small_dec().fit(X[:600], y[:600])


def test_init_only_stores_parameters():
    est = DEC(n_clusters=1, preset='nonsense', alpha=-3)  # checked at fit, not here
    assert est.get_params()['n_clusters'] == 1 and est.preset == 'nonsense'
    est2 = clone(small_dec(tol=0.01))
    assert est2.tol == 0.01 and not hasattr(est2, 'labels_')
    est2.set_params(n_clusters=4)
    assert est2.n_clusters == 4


def test_fitted_attributes(fitted, digits):
    X, y = digits
    assert fitted.labels_.shape == (600,) and fitted.labels_.dtype == numpy.int64
    assert fitted.cluster_centers_.shape == (10, 10)
    assert 0 < fitted.n_iter_ <= 120 and fitted.n_features_in_ == 64
    assert fitted.seed_ == 0
    assert set(fitted.report_['metrics']['dec']) == {'acc', 'nmi', 'ari'}
    # what a seeded fit repeats on: the BLAS kernel, the CPU, the versions
    assert fitted.report_['blas'] and all(b['architecture'] for b in fitted.report_['blas'])
    assert fitted.report_['machine']['cpu'] and fitted.report_['versions']['numpy']
    assert fitted.report_['metrics']['dec']['acc'] > 0.2  # chance: 0.1 (accuracy: test_end_to_end)


def test_predict_transform_proba(fitted, digits):
    X, _ = digits
    labels = fitted.predict(X[:600])
    numpy.testing.assert_array_equal(labels, fitted.labels_)
    q = fitted.predict_proba(X[:50])
    assert q.shape == (50, 10)
    numpy.testing.assert_allclose(q.sum(axis=1), 1, rtol=1e-5)
    numpy.testing.assert_array_equal(q.argmax(axis=1), labels[:50])
    z = fitted.transform(X[:50])
    assert z.shape == (50, 10) and z.dtype == numpy.float32
    # batched and row-by-row agree
    rows = numpy.concatenate([fitted.predict(X[i:i + 1]) for i in range(40)])
    numpy.testing.assert_array_equal(rows, labels[:40])
    rows_q = numpy.concatenate([fitted.predict_proba(X[i:i + 1]) for i in range(10)])
    numpy.testing.assert_allclose(rows_q, q[:10], rtol=1e-5, atol=1e-7)


def test_fit_predict_and_reproducibility(digits):
    """Same random_state, same labels; the global random state is left as it was found
    (scikit-learn's rule) and plays no part."""
    X, _ = digits
    with warnings.catch_warnings():  # whether 120 iterations settle the labels: not tested here
        warnings.simplefilter('ignore', ConvergenceWarning)
        numpy.random.seed(1)
        before = numpy.random.get_state()
        a = small_dec().fit_predict(X[:400])
        after = numpy.random.get_state()
        assert before[2] == after[2] and numpy.array_equal(before[1], after[1])
        numpy.random.seed(2)
        b = small_dec().fit(X[:400]).labels_
        numpy.testing.assert_array_equal(a, b)
        c = small_dec(random_state=numpy.random.RandomState(0)).fit(X[:400]).labels_
        assert c.shape == a.shape  # a RandomState is consumed, not the global one


def test_run_dir_resumes_and_reloads(digits, tmp_path):
    """With run_dir the fit keeps its run directory: a second fit with the same settings
    loads every phase instead of training, and gives the same model."""
    X, _ = digits
    kw = dict(config=dict(SMALL, dec_max_iter=30), tol=0.0, run_dir=str(tmp_path / 'run'))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        first = small_dec(**kw).fit(X[:300])
        again = small_dec(**kw).fit(X[:300])
    assert (tmp_path / 'run' / 'model.npz').exists()
    assert again.report_['pretrain']['finetune']['loaded']
    numpy.testing.assert_array_equal(again.labels_, first.labels_)
    numpy.testing.assert_array_equal(again.cluster_centers_, first.cluster_centers_)
    with pytest.raises(ValueError, match='different configuration'):
        small_dec(**dict(kw, tol=0.5)).fit(X[:300])


@pytest.mark.parametrize('preset', ['paper', 'article', 'quick'])
def test_from_config_fits_exactly_that_config(preset):
    from dec_chainer.presets import get_config
    config = get_config(preset, dec_max_iter=77, hidden_dims=(20, 10), pretrain_samples=50)
    est = DEC.from_config(config, 4, random_state=1)
    assert est._build_config() == config and est.preset == preset
    assert clone(est)._build_config() == config  # plain parameters, as scikit-learn clones


def test_the_default_preset_is_the_fast_one_and_scales_the_data(digits):
    """DEC() defaults to the quick preset (minutes, not hours). It scales the data it is
    given by a power of two (kept in the model): scikit-learn's raw 0-16 digits fit as the
    same pixels / 16 do, to the same labels. With the scaling switched off (and no lr
    back-off), data far outside the scale its lr was set for is named before training, and
    the divergence it leads to stops the fit with one clear error."""
    from dec_chainer.runs import DataScaleWarning
    from dec_chainer.training.extensions import DivergenceError
    assert DEC().preset == 'quick' and DEC()._build_config().layerwise_iters == 0
    X, _ = digits
    config = dict(SMALL, finetune_iters=100, dec_max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ConvergenceWarning)
        raw = small_dec(config=config).fit(X[:200] * 16)
        unit = small_dec(config=config).fit(X[:200])
    assert raw.input_scale_ == 1 / 16 and unit.input_scale_ == 1.0
    numpy.testing.assert_array_equal(raw.labels_, unit.labels_)
    numpy.testing.assert_array_equal(raw.predict(X[200:300] * 16), unit.predict(X[200:300]))
    est = small_dec(config=dict(config, rescale='none', lr_backoff=0))
    with pytest.raises(DivergenceError), pytest.warns(DataScaleWarning, match='lr=1.0'):
        est.fit(X[:200] * 16)


def test_stopping_at_the_iteration_cap_warns(digits):
    """tol=0 never converges: the fit says it stopped at its cap, as scikit-learn's do."""
    X, _ = digits
    est = small_dec(tol=0.0, config=dict(SMALL, dec_max_iter=30))
    with pytest.warns(ConvergenceWarning, match=r'iteration cap \(dec_max_iter=30\)'):
        est.fit(X[:300])
    assert est.n_iter_ == 30 and not est.converged_


def test_pickle_round_trip(fitted, digits):
    X, _ = digits
    again = pickle.loads(pickle.dumps(fitted))
    numpy.testing.assert_array_equal(again.predict(X[:100]), fitted.predict(X[:100]))
    numpy.testing.assert_allclose(again.cluster_centers_, fitted.cluster_centers_)


def test_save_and_load(fitted, digits, tmp_path):
    X, _ = digits
    path = tmp_path / 'model.npz'
    fitted.save(path)
    state = numpy.random.get_state()[1].copy()
    loaded = DEC.load(path)
    numpy.testing.assert_array_equal(numpy.random.get_state()[1], state)  # RNG untouched
    numpy.testing.assert_allclose(loaded.predict_proba(X[:200]), fitted.predict_proba(X[:200]),
                                  rtol=1e-6)
    numpy.testing.assert_array_equal(loaded.labels_, fitted.labels_)
    assert loaded.get_params() == fitted.get_params()


def test_model_files_are_device_free(fitted, digits, tmp_path):
    """A model saved by a GPU run (its device field says so) loads and predicts on the CPU."""
    import json
    X, _ = digits
    path = tmp_path / 'gpu_model.npz'
    fitted.save(path)
    with numpy.load(path) as f:
        arrays = dict(f)
    meta = json.loads(str(arrays['__dec_chainer_meta__']))
    meta['params']['device'] = '@cupy:0'           # as written on a GPU machine
    arrays['__dec_chainer_meta__'] = numpy.array(json.dumps(meta))
    with open(path, 'wb') as f:
        numpy.savez(f, **arrays)
    loaded = DEC.load(path)
    assert loaded.device == -1
    numpy.testing.assert_array_equal(loaded.predict(X[:100]), fitted.predict(X[:100]))


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='model file not found'):
        DEC.load(tmp_path / 'none.npz')
    (tmp_path / 'junk.npz').write_bytes(b'junk')
    with pytest.raises(ValueError, match='junk.npz'):
        DEC.load(tmp_path / 'junk.npz')
    numpy.savez(tmp_path / 'other.npz', a=numpy.zeros(3))
    with pytest.raises(ValueError, match='not a dec_chainer.DEC model'):
        DEC.load(tmp_path / 'other.npz')


def test_a_model_with_non_finite_weights_is_refused(fitted, tmp_path):
    """A model whose training diverged does not load and quietly put every point in
    cluster 0: the load names the weights."""
    path = fitted.save(tmp_path / 'm.npz')
    with numpy.load(path) as f:
        arrays = dict(f)
    key = next(k for k in arrays if k.endswith('centroids'))
    arrays[key][0, 0] = numpy.nan
    numpy.savez(tmp_path / 'nan.npz', **arrays)
    with pytest.raises(ValueError, match=r'nan.npz: the model holds non-finite weights '
                                         r'\(in /centroids\)'):
        DEC.load(tmp_path / 'nan.npz')


@pytest.mark.parametrize('scale', [1e20, 1e30, 3e38])
def test_far_inputs_get_finite_soft_assignments(fitted, digits, scale):
    """Inputs far outside the training data's scale (their squared distances overflow
    float32) still get finite q whose rows sum to 1, and labels that argmax it."""
    from dec_chainer.estimator import InputRangeWarning
    X = digits[0][:20] * scale
    with pytest.warns(InputRangeWarning, match='far outside the range the model was fitted'):
        q = fitted.predict_proba(X)
    assert numpy.isfinite(q).all()
    numpy.testing.assert_allclose(q.sum(axis=1), 1, rtol=1e-5)
    with pytest.warns(InputRangeWarning):
        numpy.testing.assert_array_equal(fitted.predict(X), q.argmax(axis=1))


def test_unfitted_and_feature_mismatch(fitted):
    with pytest.raises(NotFittedError):
        DEC().predict(numpy.zeros((3, 4)))
    with pytest.raises(ValueError, match='X has 5 features, but DEC is expecting 64 features'):
        fitted.predict(numpy.zeros((3, 5)))


@pytest.mark.parametrize('kwargs, X, match', [
    (dict(n_clusters=0), None, 'at least 1'),
    (dict(n_clusters=50), numpy.random.rand(20, 4), 'too few samples for the clusters'),
    (dict(preset='fast'), None, "unknown preset 'fast'"),
    (dict(alpha=-1.0), None, 'alpha must be'),
    (dict(config={'nope': 1}), None, 'unknown setting'),
    (dict(), numpy.array([[0.0, numpy.inf]] * 30), 'infinite'),
    # scikit-learn's own messages for what its validate_data checks
    (dict(), numpy.zeros(30), 'Expected 2D array, got 1D array'),
    (dict(), numpy.array([['a', 'b']] * 30), 'could not convert string to float'),
    (dict(), numpy.array([[0.0, 1e39]] * 30), 'too large for float32 .* rescale'),
])
def test_bad_input(kwargs, X, match):
    X = numpy.random.rand(30, 4) if X is None else X
    with pytest.raises(ValueError, match=match):
        small_dec(**kwargs).fit(X)
