"""The estimator on a GPU: fit there, save, load on the CPU, same predictions."""

import warnings

import numpy
import pytest
from sklearn.exceptions import ConvergenceWarning

from dec_chainer import DEC
from dec_chainer.datasets import load_digits

pytestmark = pytest.mark.gpu


def test_fit_on_gpu_predict_on_cpu(tmp_path):
    X, y = load_digits()
    est = DEC(n_clusters=10, dims=(64, 64, 128, 10), preset='quick', update_interval=30,
              random_state=0, device=0,
              config={'finetune_iters': 300, 'dec_max_iter': 120, 'kmeans_n_init': 3})
    with warnings.catch_warnings():  # a short schedule may stop at its cap
        warnings.simplefilter('ignore', ConvergenceWarning)
        est.fit(X[:600])
    labels_gpu = est.predict(X[:600])
    numpy.testing.assert_array_equal(labels_gpu, est.labels_)
    est.save(tmp_path / 'm.npz')
    cpu = DEC.load(tmp_path / 'm.npz', device=-1)
    q_cpu = cpu.predict_proba(X[:600])
    numpy.testing.assert_allclose(q_cpu, est.predict_proba(X[:600]), rtol=1e-4, atol=1e-6)
    assert (q_cpu.argmax(axis=1) == labels_gpu).mean() > 0.99
