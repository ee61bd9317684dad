"""scikit-learn's estimator contract: every check of ``check_estimator`` on a tiny DEC.

The configuration is tiny so the ~50 checks take seconds. Its learning rate (1e-3) is
chosen for the checks' data, some of which sits at N(100, 1): with the ``quick`` preset's
lr 1.0 (made for inputs in [0, 1]) pretraining diverges on such data, and DEC stops with a
DivergenceError naming the learning rate and the data's scale rather than fitting NaN.
No check is expected to fail.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from dec_chainer import DEC


def tiny_dec():
    return DEC(n_clusters=3, dims=(8, 4), preset='quick', update_interval=5, random_state=0,
               config={'lr': 0.001, 'finetune_iters': 10, 'dec_max_iter': 10,
                       'kmeans_n_init': 2, 'batchsize': 32})


# A 10-iteration autoencoder on the checks' few, near-identical points can embed several of
# them at one spot, and k-means then warns that it found fewer distinct clusters: expected
# of such a fit, not of the contract under test.
# And 10 DEC iterations may stop at their cap (a ConvergenceWarning of DEC's own), which
# is not what these checks are about.
@pytest.mark.filterwarnings('ignore:Number of distinct clusters:'
                            'sklearn.exceptions.ConvergenceWarning')
@pytest.mark.filterwarnings('ignore:DEC stopped at its iteration cap:'
                            'sklearn.exceptions.ConvergenceWarning')
@parametrize_with_checks([tiny_dec()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
