#!/usr/bin/env python
"""Run the article's original repository (ymym3412/DeepEmbeddedClustering) for real, on our
offline MNIST and today's stack, and score its clusters with our metrics.

    git clone https://github.com/ymym3412/DeepEmbeddedClustering /path/to/original   # yours
    .venv/bin/python scripts/run_original.py --original /path/to/original --seed 0 \\
        --scale 0.1 --work runs/original-seed0 --results results/original

Its two scripts run unchanged, imported from --original (no file of the checkout is
edited, and nothing of it is copied here): ``pretraining.py`` (layer-wise then end-to-end
autoencoder training, 4 x 50,000 + 100,000 iterations at batch 256) and ``main.py`` (k-means
on the embedding, then full-batch DEC steps with its own KL function until < 0.1 % of the
labels change between checks or after 30 steps, a t-SNE plot every 5 steps). The smallest
runtime shims it needs here, each applied only where needed:

- Chainer 7.8.1 on NumPy 2: ``import dec_chainer`` (our compatibility module) first;
- ``import cupy`` at the top of pretraining.py: a stand-in module while it is imported when
  CuPy is absent (it is used only with --gpu >= 0);
- ``chainer.datasets.get_mnist()`` downloads: a Chainer dataset root holding our offline
  MNIST in Chainer's own cache format, so its loader finds the data and downloads nothing;
- NumPy >= 1.24 refuses generators in ``numpy.vstack``, which its KL function and
  ``predict_label`` pass: turned into lists during its DEC phase and the scoring;
- scikit-learn >= 1.7 dropped ``TSNE(n_iter=)``: passed on as ``max_iter``;
- matplotlib without a display: the Agg backend;
- Chainer's ``PrintReport`` writes to the ``sys.stdout`` of Chainer's import time: during
  its pretraining it writes to the current one, so its tables reach pretraining.log;
- ``--scale F`` (default 1, the original schedule) multiplies every iteration count of its
  Trainers, the lr steps included, so a scaled run keeps the schedule's shape.

Its print() output, its Trainers' PrintReport tables included, goes to pretraining.log and
main.log in --work as well as the terminal.
Its labels of the 60,000 training digits (the only ones it clusters) are scored after
k-means on its pretrained embedding (recomputed here exactly as its main.py does) and after
its DEC steps (its own ``predict_label`` on its saved model). Writes
RESULTS/original-mnist-seed<seed>[-scale<F>].json, the figures of our runs for its run in
RESULTS/figures[-scale<F>]/ (t-SNE of its embedding with its centroids placed right, its
curves, the confusion matrix, and its own last t-SNE figure shrunk), and its logs in --work.
A finished phase (its saved model file in --work) is not rerun, and its wall time and
provenance are kept from the report that ran it; the original has no snapshots, so a
killed phase restarts from its beginning.
"""

import argparse
import contextlib
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
import types

import numpy

import dec_chainer  # noqa: F401  (Chainer on NumPy 2: must come before chainer)
from dec_chainer.provenance import environment
import chainer

N_TRAIN = 60000


# -- shims --------------------------------------------------------------------------------

@contextlib.contextmanager
def cupy_stand_in():
    """While importing the original's modules, a stand-in ``cupy`` when CuPy is absent.

    pretraining.py imports cupy at the top but uses it only with --gpu >= 0. The stand-in
    leaves ``sys.modules`` on exit (libraries that look for a loaded ``cupy`` must not find
    it); modules imported meanwhile keep their reference. Yields True when installed.
    Chainer must be imported before (it decides whether CUDA is available by importing the
    real CuPy).
    """
    try:
        import cupy  # noqa: F401
        yield False
        return
    except ImportError:
        pass
    stub = types.ModuleType('cupy')

    def _missing(name):
        raise RuntimeError('CuPy is not installed: the original code asked for cupy.{} '
                           '(run it with --gpu -1)'.format(name))
    stub.__getattr__ = _missing
    sys.modules['cupy'] = stub
    try:
        yield True
    finally:
        if sys.modules.get('cupy') is stub:
            del sys.modules['cupy']


def write_chainer_mnist_cache(root):
    """Write our offline MNIST as Chainer's dataset cache under ``root`` (uint8 x, y).

    ``chainer.datasets.get_mnist()`` then loads it from ``root/pfnet/chainer/mnist`` once
    ``chainer.dataset.set_dataset_root(root)`` points there.
    """
    from dec_chainer.datasets import load_mnist
    directory = os.path.join(root, 'pfnet', 'chainer', 'mnist')
    os.makedirs(directory, exist_ok=True)
    for split in ('train', 'test'):
        path = os.path.join(directory, split + '.npz')
        if os.path.exists(path):
            continue
        x, y = load_mnist(split, scale='raw')
        tmp = path + '.tmp.npz'
        numpy.savez_compressed(tmp, x=x.astype(numpy.uint8), y=y.astype(numpy.uint8))
        os.replace(tmp, path)
    return directory


def tsne_accepting_n_iter():
    """Make ``sklearn.manifold.TSNE`` accept ``n_iter`` again where it was removed (1.7).

    Returns True when the adapter was installed.
    """
    import inspect
    import sklearn.manifold
    TSNE = sklearn.manifold.TSNE
    if 'n_iter' in inspect.signature(TSNE.__init__).parameters:
        return False

    class TSNEWithNIter(TSNE):
        def __init__(self, *args, n_iter=None, **kwargs):
            if n_iter is not None:
                kwargs['max_iter'] = n_iter
            super().__init__(*args, **kwargs)

    # scikit-learn's get_params reads the signature of the class's own __init__
    TSNEWithNIter.__init__.__signature__ = inspect.signature(TSNE.__init__)
    TSNEWithNIter.__name__ = TSNEWithNIter.__qualname__ = 'TSNE'
    sklearn.manifold.TSNE = TSNEWithNIter
    return True


@contextlib.contextmanager
def vstack_accepting_iterables():
    """Let ``numpy.vstack`` take a generator again (NumPy >= 1.24 raises TypeError).

    The original's KL function and ``predict_label`` stack ``itertools.chain``/``repeat``
    objects. The stand-in turns such an iterable into a list and calls the real function.
    """
    real = numpy.vstack

    def vstack(tup, *args, **kwargs):
        if not isinstance(tup, (list, tuple, numpy.ndarray)):
            tup = list(tup)
        return real(tup, *args, **kwargs)

    numpy.vstack = vstack
    try:
        yield
    finally:
        numpy.vstack = real


@contextlib.contextmanager
def print_report_to_current_stdout():
    """Make Chainer's ``PrintReport`` write to the ``sys.stdout`` of the moment it is made.

    Its ``out`` defaults to the ``sys.stdout`` of the time Chainer was imported, so without
    this its tables (each stage's loss every epoch) bypass the phase's log file.
    """
    from chainer.training import extensions
    init = extensions.PrintReport.__init__

    def init_with_out(self, entries, log_report='LogReport', out=None):
        init(self, entries, log_report, sys.stdout if out is None else out)

    extensions.PrintReport.__init__ = init_with_out
    try:
        yield
    finally:
        extensions.PrintReport.__init__ = init


@contextlib.contextmanager
def scaled_trainer_schedules(factor):
    """Multiply every iteration count given to ``chainer.training.Trainer`` by ``factor``.

    Stop triggers and extension triggers in ``(n, 'iteration')`` form are scaled (at least
    1), so a schedule of 50,000 iterations with lr steps every 20,000 becomes 5,000 with steps
    every 2,000 at 0.1.
    """
    from chainer import training
    if factor == 1:
        yield
        return

    def scale(trigger):
        if isinstance(trigger, tuple) and len(trigger) == 2 and trigger[1] == 'iteration':
            return max(1, int(round(trigger[0] * factor))), 'iteration'
        return trigger

    init, extend = training.Trainer.__init__, training.Trainer.extend

    def scaled_init(self, updater, stop_trigger=None, *args, **kwargs):
        init(self, updater, scale(stop_trigger), *args, **kwargs)

    def scaled_extend(self, extension, name=None, trigger=None, *args, **kwargs):
        return extend(self, extension, name, scale(trigger), *args, **kwargs)

    training.Trainer.__init__, training.Trainer.extend = scaled_init, scaled_extend
    try:
        yield
    finally:
        training.Trainer.__init__, training.Trainer.extend = init, extend


# -- running and scoring ------------------------------------------------------------------

def checkout_digest(path):
    """SHA-256 over the checkout's Python files (to show they were left unchanged)."""
    h = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        if name.endswith('.py'):
            with open(os.path.join(path, name), 'rb') as f:
                h.update(name.encode() + b'\0' + f.read())
    return h.hexdigest()


def checkout_commit(path):
    try:
        return subprocess.run(['git', '-C', path, 'rev-parse', 'HEAD'], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


class _Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, s):
        for st in self.streams:
            st.write(s)
        return len(s)

    def flush(self):
        for st in self.streams:
            st.flush()


@contextlib.contextmanager
def _argv_and_log(argv, log_path):
    old_argv, old_out = sys.argv, sys.stdout
    with open(log_path, 'w') as log:  # a phase reruns from its start: so does its log
        sys.argv, sys.stdout = argv, _Tee(old_out, log)
        try:
            yield
        finally:
            sys.argv, sys.stdout = old_argv, old_out


def _train_data():
    train, _ = chainer.datasets.get_mnist()
    x, y = chainer.dataset.concat_examples(train)
    return x, y


def score_original(seed, n_clusters=10):
    """Score the original's saved models in the current directory with our metrics.

    Returns ``{'ae_kmeans': {...}, 'dec': {...}}`` (and the DEC labels, the final embedding
    and centroids, and ``y``: the true labels it scored against); the AE+k-means
    labels are those its main.py starts from: KMeans(n_clusters, n_init=20,
    random_state=seed) on the embedding of the 60,000 training digits.
    """
    from sklearn.cluster import KMeans
    from deep_embedded_clustering import DeepEmbeddedClustering
    from stacked_denoising_autoencoder import StackedDenoisingAutoEncoder
    from dec_chainer.evaluations import eval_clustering
    x, y = _train_data()
    scores = {'y': y}
    sdae = StackedDenoisingAutoEncoder(x.shape[1])
    chainer.serializers.load_npz('StackedDenoisingAutoEncoder-seed{}.model'.format(seed), sdae)
    model = DeepEmbeddedClustering(list(sdae.children()))
    with chainer.using_config('train', False), chainer.no_backprop_mode():
        z = model(x).array
    km = KMeans(n_clusters=n_clusters, n_init=20, random_state=seed).fit(z)
    scores['ae_kmeans'] = eval_clustering(y, km.labels_)
    dec_file = 'DeepEmbeddedClustering_modelseed{}_seed{}.model'.format(seed, seed)
    if os.path.exists(dec_file):
        model.add_centroids(numpy.zeros((n_clusters, z.shape[1]), numpy.float32))
        chainer.serializers.load_npz(dec_file, model)
        with chainer.using_config('train', False), chainer.no_backprop_mode():
            labels = numpy.asarray(model.predict_label(x))
            scores['z'] = model(x).array
            scores['centroids'] = model.get_centroids().array
        scores['dec'] = eval_clustering(y, labels)
        scores['labels'] = labels
    return scores


def run_original(original, work, seed=0, scale=1.0, gpu=-1, n_clusters=10, stop_iter=None,
                 log=print, figures=None, printed_log=None):
    """Run the original's pretraining.py then main.py in ``work``; return the report.

    ``figures``: a directory for the figures of its run (see ``write_figures``).
    """
    original, work = os.path.abspath(original), os.path.abspath(work)
    for name in ('pretraining.py', 'main.py', 'deep_embedded_clustering.py',
                 'stacked_denoising_autoencoder.py', 'tdistribution_kl_divergence.py'):
        if not os.path.isfile(os.path.join(original, name)):
            raise FileNotFoundError('{} is not a checkout of ymym3412/DeepEmbeddedClustering '
                                    '(no {})'.format(original, name))
    if not scale > 0:
        raise ValueError('--scale must be positive; got {}'.format(scale))
    digest = checkout_digest(original)
    os.makedirs(work, exist_ok=True)
    shims = {'dec_chainer_compat': environment()['compat_patches'],
             'tsne_n_iter': tsne_accepting_n_iter(),
             'vstack_iterables': True,
             'chainer_mnist_cache': write_chainer_mnist_cache(os.path.join(work, 'dataset')),
             'schedule_scale': scale, 'print_report_to_log': True}
    chainer.dataset.set_dataset_root(os.path.join(work, 'dataset'))
    import matplotlib
    matplotlib.use('Agg')
    sys.path.insert(0, original)
    cwd = os.getcwd()
    os.chdir(work)
    seconds = {}
    try:
        sdae_file = 'StackedDenoisingAutoEncoder-seed{}.model'.format(seed)
        if os.path.exists(sdae_file):
            log('[original] pretraining: {} exists, not rerun'.format(sdae_file))
        else:
            with cupy_stand_in() as shims['cupy_stand_in']:
                import pretraining
            t0 = time.time()
            with scaled_trainer_schedules(scale), _argv_and_log(
                    ['pretraining.py', '--gpu', str(gpu), '--seed', str(seed)],
                    'pretraining.log'), print_report_to_current_stdout():
                pretraining.pretraining()
            seconds['pretrain'] = round(time.time() - t0, 2)
        dec_file = 'DeepEmbeddedClustering_modelseed{}_seed{}.model'.format(seed, seed)
        if os.path.exists(dec_file):
            log('[original] DEC: {} exists, not rerun'.format(dec_file))
        else:
            import main
            argv = ['main.py', '--gpu', str(gpu), '--seed', str(seed), '--model_seed',
                    str(seed), '--cluster', str(n_clusters)]
            if stop_iter is not None:
                argv += ['--stop_iter', str(stop_iter)]
            t0 = time.time()
            with vstack_accepting_iterables(), _argv_and_log(argv, 'main.log'):
                main.main()
            seconds['dec'] = round(time.time() - t0, 2)
        t0 = time.time()
        with vstack_accepting_iterables():
            scores = score_original(seed, n_clusters)
        seconds['scoring'] = round(time.time() - t0, 2)
        dec_steps = None
        if os.path.exists('main.log'):
            with open('main.log') as f:
                dec_steps = sum(1 for line in f if line.startswith('Epoch '))
    finally:
        os.chdir(cwd)
        sys.path.remove(original)
    if checkout_digest(original) != digest:
        raise RuntimeError('the checkout in {} changed during the run'.format(original))
    labels, truth = scores.pop('labels', None), scores.pop('y')
    embedding = {k: scores.pop(k) for k in ('z', 'centroids') if k in scores}
    if labels is not None:
        numpy.save(os.path.join(work, 'labels.npy'), labels)
    report = {'original': {'path': original, 'commit': checkout_commit(original),
                           'python_files_sha256': digest},
              'seed': seed, 'scale': scale, 'gpu': gpu, 'n_clusters': n_clusters,
              'n_samples': N_TRAIN, 'shims': shims, 'metrics': scores,
              'dec_steps': dec_steps, 'seconds': seconds}
    if figures is not None and labels is not None:
        t0 = time.time()
        report['figures'] = write_figures(
            figures, work, embedding['z'], embedding['centroids'], labels, seed,
            printed_log=printed_log, y=truth)
        seconds['figures'] = round(time.time() - t0, 2)
    return report


# -- figures --------------------------------------------------------------------------------

_ANSI = re.compile(r'\x1b\[[0-9;?]*[A-Za-z]')
_STAGE = re.compile(r'^(?:Layer (\d+)|fine tuning)$')
_NUMBER = r'[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?'
_ROW = re.compile(r'^\s*(\d+)\s+({0})\s+({0})\s*$'.format(_NUMBER))


def parse_printed_log(text):
    """Read the original's printed output: its Trainers' tables and its DEC loop.

    Returns ``(stages, dec)``: ``stages`` maps ``layer1``..``layer4`` and ``finetune`` to
    LogReport-like entries (``iteration``, ``main/loss``, ``elapsed_time``); ``dec`` lists
    one entry per DEC step (``step``, ``loss``: its summed KL) with ``label_change`` at the
    steps that checked the labels. Terminal control sequences are ignored.
    """
    stages, dec, current = {}, [], None
    for line in _ANSI.sub('', text).replace('\r', '\n').splitlines():
        line = line.strip()
        stage = _STAGE.match(line)
        if stage:
            current = 'layer' + stage.group(1) if stage.group(1) else 'finetune'
            stages[current] = []
            continue
        if line == 'train DEC':
            current = None
            continue
        row = _ROW.match(line)
        if row and current is not None:
            stages[current].append({'iteration': int(row.group(1)),
                                    'main/loss': float(row.group(2)),
                                    'elapsed_time': float(row.group(3))})
        elif line.startswith('Epoch '):
            dec.append({'step': int(line.split()[1])})
        elif line.startswith('loss ') and dec:
            dec[-1]['loss'] = float(line.split()[1])
        elif line.startswith('diff ') and dec:
            dec[-1]['label_change'] = float(line.split()[1])
    return stages, dec


def write_figures(out, work, z, centroids, labels, seed, printed_log=None, n_points=500,
                  y=None):
    """The figures of our runs, for the original's run: PNG files under ``out``.

    ``tsne.png``: t-SNE of ``n_points`` random digits of its final embedding ``z`` with its
    centroids embedded together with them (its own figure draws them at the places of the
    last points); ``curves.png``: its pretraining losses and its DEC loop (summed KL,
    labels changed); ``confusion.png``; ``its_tsne.png``: its own last figure, shrunk.
    ``printed_log``: its printed output (default: its phase logs in ``work``). ``y``: the
    true labels of the 60,000 training digits (default: loaded again).
    """
    import matplotlib.pyplot as plt
    from dec_chainer.visualizations import save_figure as save
    from dec_chainer.visualizations import (tsne_with_centroids, vis_confusion,
                                            vis_embedding, vis_loss_curves)
    os.makedirs(out, exist_ok=True)
    if y is None:
        _, y = _train_data()
    written = {}
    pts, cents, idx = tsne_with_centroids(z, centroids, n_points, seed)
    ax = vis_embedding(pts, y[idx], cents, color_label='true label',
                       title='original repository: t-SNE of {} points,\ncentroids as '
                             'triangles'.format(len(idx)))
    written['tsne'] = save(ax, os.path.join(out, 'tsne.png'))

    paths = [printed_log] if printed_log else [os.path.join(work, name) for name in
                                                ('pretraining.log', 'main.log')]
    text = ''
    for path in paths:
        if os.path.exists(path):
            with open(path) as f:
                text += f.read() + '\n'
    stages, dec = parse_printed_log(text)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    vis_loss_curves(stages, ax=axes[0], title='its pretraining (MSE)')
    steps = [e['step'] for e in dec if 'loss' in e]
    axes[1].plot(steps, [e['loss'] for e in dec if 'loss' in e], marker='.', color='C0')
    axes[1].set_xlabel('DEC step (full batch)')
    axes[1].set_ylabel('its printed loss (KL summed over points)', color='C0')
    twin = axes[1].twinx()
    checks = [(e['step'], e['label_change']) for e in dec if 'label_change' in e]
    if checks:
        twin.plot(*zip(*checks), marker='o', color='C3')
    twin.set_ylabel('fraction of labels changed', color='C3')
    twin.set_ylim(0, 1)
    axes[1].set_title('its DEC loop')
    written['curves'] = save(axes[0], os.path.join(out, 'curves.png'))

    ax = vis_confusion(y, labels, ax=plt.subplots(figsize=(7, 6))[1])
    written['confusion'] = save(ax, os.path.join(out, 'confusion.png'))

    its_dir = os.path.join(work, 'modelseed{}_seed{}'.format(seed, seed))
    its = sorted((f for f in os.listdir(its_dir) if f.endswith('.png')),
                 key=lambda f: int(re.search(r'iter(\d+)', f).group(1))) \
        if os.path.isdir(its_dir) else []
    if its:
        from PIL import Image
        with Image.open(os.path.join(its_dir, its[-1])) as im:
            im.thumbnail((600, 600))
            im.convert('RGB').save(os.path.join(out, 'its_tsne.png'), optimize=True)
        written['its_tsne'] = os.path.join(out, 'its_tsne.png')
    return {k: os.path.relpath(v, os.path.dirname(out)) for k, v in written.items()}


def carry_over_phases(report, path):
    """Keep the wall time of the phases an earlier invocation ran (its models in --work).

    A phase whose saved model exists is not rerun; its seconds and the provenance of the
    invocation that ran it come from the report that invocation wrote at ``path``, under
    ``report['earlier']``. Metrics are recomputed from the saved models (they must agree).
    """
    if not os.path.exists(path):
        return
    with open(path) as f:
        earlier = json.load(f)
    carried = [phase for phase in ('pretrain', 'dec')
               if phase not in report['seconds'] and phase in earlier.get('seconds', {})]
    if not carried:
        return
    for phase in carried:
        report['seconds'][phase] = earlier['seconds'][phase]
    source = earlier.get('earlier')
    if source and set(carried) <= set(source.get('phases', ())):
        report['earlier'] = source  # those phases were carried over already: their origin
    else:
        report['earlier'] = {'phases': carried, 'provenance': earlier.get('provenance'),
                             'seconds': earlier['seconds'], 'metrics': earlier.get('metrics')}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--original', required=True, metavar='PATH',
                   help='a checkout of ymym3412/DeepEmbeddedClustering')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--scale', type=float, default=1.0,
                   help='multiply its iteration counts (1: its own schedule)')
    p.add_argument('--gpu', type=int, default=-1)
    p.add_argument('--stop-iter', type=int, default=None,
                   help="its main.py's --stop_iter (default: its own, 30)")
    p.add_argument('--work', default=None,
                   help='working directory (its models, plots, logs); default '
                        'runs/original-seed<seed>[-scale<F>]')
    p.add_argument('--results', default='results/original')
    p.add_argument('--no-figures', action='store_true',
                   help='do not draw the figures (RESULTS/figures[-scaleF]/)')
    p.add_argument('--printed-log', default=None, metavar='FILE',
                   help='its printed output, for the curves, when its phase logs in --work '
                        'lack the tables (runs of this script before it sent them there)')
    args = p.parse_args(argv)
    suffix = '' if args.scale == 1 else '-scale{:g}'.format(args.scale)
    work = args.work or os.path.join('runs', 'original-seed{}{}'.format(args.seed, suffix))
    from dec_chainer.provenance import provenance
    origin = provenance(['python', 'scripts/run_original.py'] + list(
        sys.argv[1:] if argv is None else argv))
    os.makedirs(args.results, exist_ok=True)
    path = os.path.join(args.results, 'original-mnist-seed{}{}.json'.format(args.seed, suffix))
    figures = None if args.no_figures else os.path.join(args.results, 'figures' + suffix)
    t0 = time.time()
    report = run_original(args.original, work, args.seed, args.scale, args.gpu,
                          stop_iter=args.stop_iter, figures=figures,
                          printed_log=args.printed_log)
    report['provenance'] = origin
    carry_over_phases(report, path)
    report['seconds']['total'] = round(sum(
        v for k, v in report['seconds'].items() if k != 'total'), 2)
    report['seconds']['this_invocation'] = round(time.time() - t0, 2)
    with open(path, 'w') as f:
        json.dump(report, f, indent=2)
    m = report['metrics']
    for phase in ('ae_kmeans', 'dec'):
        if phase in m:
            print('{:10s} ACC {acc:.4f}  NMI {nmi:.4f}  ARI {ari:.4f}'.format(phase, **m[phase]))
    print('wrote', path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
