"""DEC end to end on real data (scikit-learn's 1,797 digits), seeds 0-2, asserting only what
holds on every CPU and BLAS kernel.

A seeded run is exactly repeatable on one OpenBLAS kernel, but another kernel's rounding
moves the k-means start and DEC's path: one seed swings by several points of ACC. So the
assertions are on the mean over three seeds, with per-seed guards far from the measured
values. Measured with the README's digits configuration (the one below), seeds 0 / 1 / 2,
under each kernel this project's CPU runs (OPENBLAS_CORETYPE set by hand, never here):

=============  ======================  ======================  =====================
kernel         AE+k-means ACC          DEC ACC                 DEC NMI - AE NMI
=============  ======================  ======================  =====================
SkylakeX       0.795 / 0.786 / 0.785   0.813 / 0.819 / 0.781   0.040 / 0.061 / 0.020
Haswell        0.801 / 0.785 / 0.788   0.819 / 0.800 / 0.786   0.045 / 0.054 / 0.023
Sandybridge    0.796 / 0.782 / 0.787   0.823 / 0.805 / 0.787   0.051 / 0.061 / 0.024
Prescott*      0.761 / 0.779 / 0.786   0.787 / 0.801 / 0.786   0.052 / 0.061 / 0.023
=============  ======================  ======================  =====================

(* threadpoolctl names it Katmai.) Measured with the hand-made k-means restart loop; since
the restarts are scikit-learn's ``KMeans(n_init=20)`` (other restart seeds) the tests were
re-run under the four kernels and pass (session 4), values not re-tabulated.
Mean NMI gain 0.040-0.046, mean ACC gain 0.010-0.016 (k-means on the raw pixels: 0.79;
chance: 0.10). The same seeds with DEC broken (SkylakeX): P computed once and never
refreshed, mean NMI gain 0.015; no gradient into the encoder, 0.001; P = Q (no
sharpening), 0.000; the gradient's sign flipped, every point in one cluster (NMI 0). The
NMI-gain threshold of 0.025 sits between the two groups.
"""

import numpy
import pytest

import dec_chainer
from dec_chainer.datasets import load_digits

from conftest import quiet

SEEDS = (0, 1, 2)


# every test here reads the same seeded runs on the digits (about 40 s)
pytestmark = pytest.mark.slow


@pytest.fixture(scope='module')
def digits_runs():
    X, y = load_digits()
    config = dec_chainer.get_config(
        'quick', hidden_dims=(256, 256, 512, 10), finetune_iters=1000, dec_max_iter=400,
        update_interval=30)
    return [dec_chainer.fit_dec(X, y, 10, config, out=None, seed=seed, context=quiet())
            for seed in SEEDS]


def _metric(runs, phase, key):
    return numpy.array([report['metrics'][phase][key] for _, _, report in runs])


def test_dec_sharpens_its_kmeans_initialisation(digits_runs):
    ae_nmi, dec_nmi = _metric(digits_runs, 'ae_kmeans', 'nmi'), _metric(digits_runs, 'dec', 'nmi')
    assert (dec_nmi - ae_nmi).mean() >= 0.025      # measured 0.040-0.046; P frozen: 0.015
    assert (dec_nmi >= ae_nmi + 0.005).all()       # every seed; measured >= 0.020


def test_dec_improves_on_its_kmeans_accuracy(digits_runs):
    ae, dec = _metric(digits_runs, 'ae_kmeans', 'acc'), _metric(digits_runs, 'dec', 'acc')
    assert dec.mean() >= ae.mean() + 0.005         # measured +0.010 .. +0.016


def test_dec_reaches_a_meaningful_accuracy(digits_runs):
    assert _metric(digits_runs, 'ae_kmeans', 'acc').mean() > 0.72   # measured >= 0.775
    dec_acc = _metric(digits_runs, 'dec', 'acc')
    assert dec_acc.mean() > 0.76 and dec_acc.min() > 0.74           # measured >= 0.79, 0.78
    assert _metric(digits_runs, 'dec', 'ari').mean() > 0.64          # measured >= 0.69


def test_report_contents(digits_runs):
    model, labels, report = digits_runs[0]
    assert report['dec']['iterations'] <= 400
    assert set(report['seconds']) == {'pretrain', 'kmeans', 'dec', 'compute'}
    s = report['seconds']
    assert s['compute'] == pytest.approx(s['pretrain'] + s['kmeans'] + s['dec'])
    assert labels.shape == (1797,)
    assert model.centroids.shape == (10, 10)
    # each seed is its own run
    assert len({tuple(labels[:200]) for _, labels, _ in digits_runs}) == len(SEEDS)
