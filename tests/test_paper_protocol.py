"""The paper's protocols beyond its main table, on small data: DEC without backpropagation
(only the centroids move) and the imbalanced subsets of its Table 4."""

import numpy
import pytest

import dec_chainer
from dec_chainer import _files
from dec_chainer.datasets import imbalanced_subset, load_digits

from conftest import quiet


def test_imbalanced_subset_keeps_each_class_at_its_linear_rate():
    """Class 0 kept with r_min, the last class with 1, linearly in between, seeded."""
    y = numpy.repeat(numpy.arange(10), 20000)
    rows = imbalanced_subset(y, 0.1, seed=3)
    kept = numpy.bincount(y[rows], minlength=10) / 20000
    numpy.testing.assert_allclose(kept, numpy.linspace(0.1, 1.0, 10), atol=0.01)  # sd 0.0035
    assert kept[-1] == 1.0 and numpy.all(numpy.diff(rows) > 0)
    numpy.testing.assert_array_equal(rows, imbalanced_subset(y, 0.1, seed=3))
    assert not numpy.array_equal(rows, imbalanced_subset(y, 0.1, seed=4))
    # classes by their sorted values, whatever the labels are
    letters = numpy.array(list('ab'))[numpy.repeat([0, 1], 20000)]
    assert abs(len(imbalanced_subset(letters, 0.5)) - 30000) < 500
    assert len(imbalanced_subset(y, 1.0)) == len(y)
    with pytest.raises(ValueError, match=r'r_min .* must be in \(0, 1\]'):
        imbalanced_subset(y, 0.0)


def test_dec_without_backprop_moves_only_the_centroids(tmp_path):
    """dec_encoder='frozen' (the paper's "DEC w/o backprop"): after the DEC phase the
    encoder is the pretrained one, bit for bit, and the centroids have moved; with the
    default ('train') the encoder changes too."""
    X, y = load_digits()
    X, y = X[:400], y[:400]
    config = dec_chainer.get_config('quick', hidden_dims=(32, 32, 64, 10), finetune_iters=150,
                                    dec_max_iter=60, update_interval=20, kmeans_n_init=2)

    def encoder_moved(dec_encoder, out):
        model, _, report = dec_chainer.fit_dec(
            X, y, 10, config.replace(dec_encoder=dec_encoder), str(out), seed=1,
            context=quiet())
        pretrained = _files.read_arrays(str(out / 'pretrain' / 'finetune.npz'))
        weights = {k: v for k, v in pretrained.items() if '/encoder/' in '/' + k}
        assert weights and report['dec']['iterations'] > 0
        moved = [k for k, v in weights.items()
                 if not numpy.array_equal(getattr(model.autoencoder[int(k.split('/')[0])]
                                                  .encoder, k.split('/')[-1]).array, v)]
        start = _files.read_arrays(str(out / 'kmeans.npz'))['centroids']
        assert not numpy.array_equal(model.centroids.array, start)  # the centroids moved
        return moved

    assert encoder_moved('frozen', tmp_path / 'frozen') == []
    assert encoder_moved('train', tmp_path / 'train')


def test_cluster_seed_restarts_k_means_on_the_same_autoencoder(tmp_path):
    """cluster_seed: the paper's several k-means starts on one pretrained autoencoder. A
    run with another cluster_seed reuses the autoencoder (no pretraining: the settings that
    make it are unchanged) and starts k-means elsewhere; cluster_seed equal to the run's
    seed is the run itself, label for label."""
    X, y = load_digits()
    X = X[:300]
    config = dec_chainer.get_config('quick', hidden_dims=(32, 32, 64, 10), finetune_iters=100,
                                    dec_max_iter=20, update_interval=10, kmeans_n_init=1)
    base = dec_chainer.fit_dec(X, None, 10, config, str(tmp_path / 'base'), seed=0,
                               context=quiet())
    same = dec_chainer.fit_dec(X, None, 10, config.replace(cluster_seed=0),
                               str(tmp_path / 'same'), seed=0, context=quiet(),
                               pretrained=str(tmp_path / 'base'))
    other = dec_chainer.fit_dec(X, None, 10, config.replace(cluster_seed=1),
                                str(tmp_path / 'other'), seed=0, context=quiet(),
                                pretrained=str(tmp_path / 'base'))
    assert other.report['pretrained_from'] == str(tmp_path / 'base')
    numpy.testing.assert_array_equal(same.labels, base.labels)
    starts = [_files.read_arrays(str(tmp_path / name / 'kmeans.npz'))['centroids']
              for name in ('base', 'other')]
    assert not numpy.allclose(*starts)
    with pytest.raises(ValueError, match='cluster_seed must be >= 0'):
        dec_chainer.get_config('quick', cluster_seed=-1)


def test_top_members_are_each_clusters_most_confident_rows():
    """The paper's Figure 3: per cluster, the rows of highest q in that column, best first;
    the figure is a grid of K rows of n images."""
    from dec_chainer.visualizations import top_members, vis_top_members
    q = numpy.random.RandomState(0).dirichlet(numpy.ones(4), 200)
    top = top_members(q, 6)
    assert top.shape == (4, 6)
    for j in range(4):
        numpy.testing.assert_array_equal(top[j], numpy.argsort(-q[:, j], kind='stable')[:6])
    X, _ = load_digits()
    ax = vis_top_members(X[:200], q, (8, 8), n=6)
    assert ax.images[0].get_array().shape == (4 * 9, 6 * 9)


def test_loss_on_is_decs_loss_over_the_whole_set():
    """L of a set (the paper's L_train, L_validation): DEC's KL(P || Q), mean over rows,
    with P from that set's own Q, computed batch by batch as over the whole set at once."""
    import chainer
    from dec_chainer.functions import dec_kl_divergence, soft_assignment
    from dec_chainer.links import DeepEmbeddedClustering
    from dec_chainer.training import build_autoencoder
    X, _ = load_digits()
    sdae = build_autoencoder(64, dec_chainer.get_config(
        'quick', hidden_dims=(16, 4), init='normal', init_scale=0.3), numpy.random.RandomState(0))
    model = DeepEmbeddedClustering(sdae, numpy.zeros((5, 4)), input_scale=16.0)
    with chainer.no_backprop_mode():
        z = model.embed(X).array
    model.centroids.array[...] = z[::360][:5]  # spread over the data: q far from uniform
    p = dec_chainer.target_distribution(soft_assignment(z, model.centroids.array).array)
    expected = float(dec_kl_divergence(z, model.centroids.array, p).array)
    assert model.loss_on(X, batchsize=100) == pytest.approx(expected, rel=1e-4)


def test_choose_n_clusters_pretrains_once_and_reports_generalizability(tmp_path):
    """K = 2..5 on digits with 20 % held out: one pretraining (on the training rows only),
    reused by every K; per K, G = L_train / L_validation from the two sets' losses, NMI and
    ACC over all rows; the choice is the K before the largest drop of G."""
    from dec_chainer.estimator import choose_n_clusters
    X, y = load_digits()
    X, y = X[:500], y[:500]
    result = choose_n_clusters(
        X, [5, 3, 2, 4], held_out=0.2, y=y, run_dir=str(tmp_path), dims=(32, 32, 64, 10),
        random_state=0, config={'finetune_iters': 100, 'dec_max_iter': 30,
                                'update_interval': 10, 'kmeans_n_init': 2})
    rows = result['rows']
    assert [r['n_clusters'] for r in rows] == [2, 3, 4, 5]
    assert (result['n_train'], result['n_held_out']) == (400, 100)
    for r in rows:
        assert r['l_train'] > 0 and r['l_validation'] > 0 and 0 <= r['nmi'] <= 1
        assert r['generalizability'] == r['l_train'] / r['l_validation']
    g = [r['generalizability'] for r in rows]
    assert result['choice'] == rows[int(numpy.argmax(numpy.diff(g) * -1))]['n_clusters']
    trained = [k for k in (2, 3, 4, 5) if (tmp_path / 'k{}'.format(k) / 'pretrain' /
                                          'finetune').is_dir()]
    assert trained == [2]  # the others reused k2's autoencoder
    run = _files.read_json(str(tmp_path / 'k2' / 'run.json'))
    assert run['config']['pretrain_samples'] == run['config']['cluster_samples'] == 400
    with pytest.raises(ValueError, match='held_out=0.999 leaves 0 training'):
        choose_n_clusters(X, [2], held_out=0.999)


def test_choose_k_command_writes_table_and_figure(tmp_path, capsys):
    from dec_chainer.cli import main
    out = tmp_path / 'k'
    assert main(['choose-k', '--dataset', 'digits', '--candidates', '9', '10', '--held-out',
                 '300', '--out', str(out), '--no-progress', '--set', 'hidden_dims=[16,16,32,10]',
                 'finetune_iters=50', 'dec_max_iter=20', 'update_interval=10',
                 'kmeans_n_init=1']) == 0
    page = _files.read_json(str(out / 'choose-k.json'))
    assert [r['n_clusters'] for r in page['rows']] == [9, 10] and page['n_held_out'] == 300
    assert page['choice'] == 9 and page['provenance']['command'].startswith('dec-chainer')
    assert (out / 'choose-k.png').stat().st_size > 5000
    assert 'chosen K: 9' in capsys.readouterr().out


def test_choose_k_dry_run_plans_on_the_training_rows_only(tmp_path, capsys):
    """The dry run describes what the run does: the autoencoder and k-means on the rows
    left after the held-out ones, and trains nothing."""
    from dec_chainer.cli import main
    out = tmp_path / 'k'
    assert main(['choose-k', '--dataset', 'digits', '--candidates', '9', '10', '--held-out',
                 '297', '--out', str(out), '--dry-run']) == 0
    plan = capsys.readouterr().out
    assert 'on 1500 points' in plan and 'embedding of 1500 points' in plan
    assert 'the first 1500 rows train, the last 297 are held out' in plan
    assert not out.exists()
