"""scikit-learn's estimator contract: every check of ``check_estimator`` on a small DEC with
the default preset's settings: a smaller network and a shorter schedule, nothing else (the
learning rate, the optimiser and the data's scale are the defaults: the checks' data, some
of it at N(100, 1), some with one feature, is what a user may give). No check is expected
to fail.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from dec_chainer import DEC


def small_default_dec():
    return DEC(n_clusters=3, dims=(8, 8, 16, 3), random_state=0,
               config={'finetune_iters': 30, 'dec_max_iter': 20, 'update_interval': 5})


def test_the_contract_runs_the_defaults():
    """What the checks below fit differs from ``DEC()`` in the network and schedule only."""
    config, default = small_default_dec()._build_config(), DEC()._build_config()
    differ = {k for k, v in config.to_dict().items() if default.to_dict()[k] != v}
    assert differ == {'hidden_dims', 'finetune_iters', 'dec_max_iter', 'update_interval'}


# A 10-iteration autoencoder on the checks' few, near-identical points can embed several of
# them at one spot, and k-means then warns that it found fewer distinct clusters: expected
# of such a fit, not of the contract under test.
# And 10 DEC iterations may stop at their cap (a ConvergenceWarning of DEC's own), which
# is not what these checks are about.
@pytest.mark.filterwarnings('ignore:Number of distinct clusters:'
                            'sklearn.exceptions.ConvergenceWarning')
@pytest.mark.filterwarnings('ignore:DEC stopped at its iteration cap:'
                            'sklearn.exceptions.ConvergenceWarning')
# And on the checks' structureless data (uniform noise, constant columns) DEC may empty a
# cluster, which it says (a DegenerateClusteringWarning, tested in test_estimator.py).
@pytest.mark.filterwarnings('ignore::dec_chainer.runs.DegenerateClusteringWarning')
@parametrize_with_checks([small_default_dec()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
