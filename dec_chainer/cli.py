"""The ``dec-chainer`` command-line tool."""

import argparse
import os
import signal
import sys
import tempfile
import time
import traceback
import warnings

import numpy

from dec_chainer import _compat, _launch, distributed
import chainer  # noqa: E402  (after dec_chainer, which patches the stack for it)

from dec_chainer.presets import PRESETS
from dec_chainer.provenance import provenance, versions
from dec_chainer.errors import MissingFileError, NotWritableError, UserError


def version_string():
    v = versions()
    return 'dec-chainer {} (chainer {}, numpy {}, python {}; compat patches: {})'.format(
        v['dec_chainer'], v['chainer'], v['numpy'], v['python'],
        ', '.join(_compat.APPLIED) or 'none')


def device_type(spec):
    """The ``--device`` type of every command and script: ``-1``/``@numpy`` (CPU),
    ``0``/``@cupy:0`` (GPU), checked here (a GPU must exist) so a wrong one fails at parsing."""
    value = int(spec) if spec.lstrip('-').isdigit() else spec
    try:
        device = chainer.get_device(value)
        if device.xp is not numpy and device.device.id >= \
                device.xp.cuda.runtime.getDeviceCount():
            raise UserError('this machine has {} GPU(s)'.format(
                device.xp.cuda.runtime.getDeviceCount()))
    except Exception as e:
        raise argparse.ArgumentTypeError('{!r} is not a usable device ({})'.format(
            spec, e)) from None
    return value


def _add_baseline(sub):
    p = sub.add_parser(
        'baseline', help='k-means on the raw features of a data set (ACC/NMI/ARI table)',
        description='k-means (k-means++, best of --n-init restarts) on the raw features.')
    p.add_argument('--dataset', default='mnist',
                   help='mnist, fashion-mnist, digits, or a .npy/.npz/.csv file '
                        '(default: mnist, all 70,000 digits)')
    p.add_argument('--clusters', type=int, default=None,
                   help='number of clusters (default: number of classes, else 10)')
    p.add_argument('--n-init', type=int, default=10, help='k-means restarts (default 10)')
    p.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    p.add_argument('--out', default=None, help='also write the metrics as JSON to this file')
    p.set_defaults(func=_run_baseline)


def _run_baseline(args):
    from dec_chainer import _files
    from dec_chainer.datasets import default_n_clusters, load_dataset
    from dec_chainer.evaluations import eval_clustering
    from dec_chainer.kmeans import kmeans
    from dec_chainer.reporting import format_table, published_line

    t0 = time.time()
    X, y = load_dataset(args.dataset)
    n_clusters = args.clusters
    if n_clusters is None:
        n_clusters = default_n_clusters(y)
    print('{}: {} samples x {} features, {} clusters, {} k-means restarts, seed {}'.format(
        args.dataset, X.shape[0], X.shape[1], n_clusters, args.n_init, args.seed),
        flush=True)
    t1 = time.time()
    _, labels, inertia = kmeans(X, n_clusters, n_init=args.n_init, random_state=args.seed)
    t2 = time.time()
    row = {'method': 'k-means (raw features)', 'inertia': inertia,
           'load_s': round(t1 - t0, 2), 'kmeans_s': round(t2 - t1, 2)}
    if y is not None:
        row.update(eval_clustering(y, labels))
    print()
    print(format_table([row], [('method', 'method'), ('acc', 'ACC'), ('nmi', 'NMI'),
                               ('ari', 'ARI'), ('kmeans_s', 'time (s)', '{:.1f}')]))
    if args.dataset == 'mnist':
        print('\n' + published_line(('kmeans',)))
    if args.out:
        _files.write_json(args.out, dict(
            row, dataset=args.dataset, n_samples=int(X.shape[0]), n_clusters=n_clusters,
            n_init=args.n_init, seed=args.seed,
            provenance=provenance(['dec-chainer'] + args.argv)))
    return 0


def _add_run_options(p, out_help, clusters=True):
    p.add_argument('--dataset', default='mnist',
                   help='mnist, fashion-mnist, digits, or a .npy/.npz/.csv file')
    if clusters:
        p.add_argument('--clusters', type=int, default=None,
                       help='number of clusters (default: number of classes, else 10)')
    p.add_argument('--seed', type=int, default=0, help='the one seed of the run')
    p.add_argument('--device', default='-1', type=device_type,
                   help='-1 or @numpy (CPU), 0 or @cupy:0 (GPU)')
    p.add_argument('--out', default=None, help=out_help)
    p.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE', action='extend',
                   help='override preset values, e.g. dec_max_iter=2000 kernel=distance '
                        '(names: see dec_chainer/presets.py); repeated --set options '
                        'merge in order, a later value of a key wins')
    p.add_argument('--no-progress', action='store_true', help='no progress bars')
    p.add_argument('--dry-run', action='store_true',
                   help='check the data and the settings, print the plan, train nothing')


def _add_train(sub, name, help, description, **defaults):
    p = sub.add_parser(name, help=help, description=description)
    _add_run_options(p, 'run directory: snapshots, logs, model, metrics.json, figures '
                        '(default: runs/<preset>-<dataset>-seed<seed>)')
    p.add_argument('--preset', default='quick', choices=sorted(PRESETS))
    p.add_argument('--no-figures', action='store_true', help='skip the figures')
    p.add_argument('--communicator', default='auto', choices=distributed.COMMUNICATORS,
                   help='ChainerMN communicator when started by mpiexec -n N (N > 1): '
                        'data-parallel training, each process on its share of the rows '
                        '(auto: naive on CPUs, pure_nccl on GPUs, one GPU per process)')
    if name == 'train':
        p.add_argument('--resume', default=None, metavar='DIR',
                       help='resume the run in DIR from its latest snapshots (same as --out '
                            'DIR)')
        p.add_argument('--results', default=None, metavar='DIR',
                       help='also write the report to DIR/NAME.json and the DEC log to '
                            'DIR/NAME.dec_log.json (commit-ready results)')
        p.add_argument('--name', default=None,
                       help='result file stem (default: <preset>-<dataset>-seed<seed>)')
    if name == 'cluster':
        p.add_argument('--pretrained', default=None, metavar='DIR',
                       help='run directory whose pretrained autoencoder to reuse')
    p.set_defaults(func=_run_train, **defaults)


def _run_train(args):
    from dec_chainer.experiment import (default_name, describe_plan, parse_overrides,
                                        results_table, run_experiment)
    from dec_chainer.reporting import published_line
    from dec_chainer.training import RunContext
    overrides = parse_overrides(args.set)
    if getattr(args, 'resume', None):
        if args.out and os.path.abspath(args.out) != os.path.abspath(args.resume):
            raise UserError('--resume {} and --out {} name different runs'.format(
                args.resume, args.out))
        if not os.path.isdir(args.resume):
            raise MissingFileError('no run directory to resume: {}'.format(args.resume))
        args.out = args.resume
    out = args.out or os.path.join('runs', default_name(args.preset, args.dataset, args.seed))
    if args.dry_run:
        print(describe_plan(args.dataset, args.preset, overrides, args.clusters))
        print('run directory: {}'.format(out))
        return 0
    stop_after = getattr(args, 'stop_after', None)
    if args.command == 'cluster' and args.pretrained is None and not (
            os.path.isdir(os.path.join(out, 'pretrain'))
            and any(f.endswith('.npz') for f in os.listdir(os.path.join(out, 'pretrain')))):
        print('[pretrain] no --pretrained DIR and no autoencoder in {}: pretraining it '
              'first, from scratch'.format(out))
    comm = args.comm = distributed.create_communicator(
        args.communicator, gpu=chainer.get_device(args.device).xp is not numpy)
    if comm is not None and chainer.get_device(args.device).xp is not numpy:
        args.device = '@cupy:{}'.format(comm.intra_rank)  # one GPU per process
    results = getattr(args, 'results', None)
    if results is not None:
        results = os.path.join(results, getattr(args, 'name', None) or default_name(
            args.preset, args.dataset, args.seed))
    context = RunContext(args.device, comm, progress=not args.no_progress,
                         command=['dec-chainer'] + args.argv, figures=not args.no_figures)
    _, report = run_experiment(args.dataset, args.preset, overrides, args.clusters,
                               args.seed, out, context, stop_after=stop_after,
                               pretrained=getattr(args, 'pretrained', None), results=results)
    if not distributed.is_root(comm):
        return 0
    print()
    if stop_after == 'pretrain':
        for stage, r in report['pretrain'].items():
            print('{}: {} iterations, loss {}, {:.0f} s'.format(
                stage, r['iterations'], r['loss'], r['seconds']))
        print('pretrained autoencoder in {}'.format(os.path.join(out, 'pretrain')))
        return 0
    print(results_table(report))
    if args.dataset == 'mnist':
        print('\n' + published_line())
    print('total {:.0f} s; model, metrics{} in {}'.format(
        report['seconds']['total'], '' if args.no_figures else ' and figures', out))
    return 0


def _add_predict(sub):
    p = sub.add_parser('predict', help='cluster labels (and soft assignments) for new data',
                       description='Label the rows of --data with a saved model.')
    p.add_argument('--model', required=True, help='dec_model.npz of a run (or DEC.save)')
    p.add_argument('--data', required=True, help='.npy/.npz/.csv file, or mnist, '
                                                 'fashion-mnist, digits')
    p.add_argument('--output', required=True, help='labels to .npy or .csv')
    p.add_argument('--proba', action='store_true',
                   help='also the soft assignments: an (n, K) .npy next to --output, or '
                        'extra columns in the .csv')
    p.add_argument('--device', default=None, type=device_type, help='device to predict on')
    p.set_defaults(func=_run_predict)


def _load_for_model(data, est):
    """The data set or file ``data`` as the model ``est`` needs it; its feature count is
    checked here, so the message names the file."""
    from dec_chainer.datasets import DATASETS, load_dataset
    if data in DATASETS:
        X, y = load_dataset(data, scale=est.config_.get('scale', 'unit'))
    else:
        X, y = load_dataset(data)
    if X.shape[1] != est.n_features_in_:
        raise UserError('{} has {} features, but the model was fitted on {}'.format(
            data, X.shape[1], est.n_features_in_))
    return X, y


def check_writable(directory):
    """Raise ``OSError`` naming ``directory`` unless a file can be created in it (a missing,
    read-only or full directory is found before anything is computed)."""
    if not os.path.isdir(directory):
        raise MissingFileError('no such directory: {}'.format(directory))
    try:
        tempfile.TemporaryFile(dir=directory).close()
    except OSError as e:
        raise NotWritableError('cannot write to {}: {}'.format(directory, e.strerror or e)) from None


def _run_predict(args):
    from dec_chainer import _files
    from dec_chainer.estimator import DEC
    est = DEC.load(args.model, device=args.device)
    suffix = os.path.splitext(args.output)[1].lower()
    if suffix not in ('.npy', '.csv'):
        raise UserError('--output must end in .npy or .csv; got {}'.format(args.output))
    outputs = [args.output] + ([os.path.splitext(args.output)[0] + '_proba.npy']
                               if args.proba and suffix == '.npy' else [])
    for path in outputs:
        if os.path.isdir(path):
            raise UserError('--output {} is a directory; give a file name'.format(path))
        if os.path.exists(args.data) and os.path.realpath(path) in (
                os.path.realpath(args.data), os.path.realpath(args.model)):
            raise UserError('--output {} would overwrite an input file'.format(path))
    check_writable(os.path.dirname(os.path.abspath(args.output)))  # before computing
    X, _ = _load_for_model(args.data, est)
    q = est.predict_proba(X)
    labels = q.argmax(axis=1)
    if not args.proba:
        q = None
    if suffix == '.npy':
        for path, array in zip(outputs, (labels, q)):
            with _files.atomic_write(path, 'wb') as f:
                numpy.save(f, array)
    else:
        columns = [labels[:, None].astype(numpy.float64)]
        header = ['label']
        if q is not None:
            columns.append(q)
            header += ['q{}'.format(j) for j in range(q.shape[1])]
        with _files.atomic_write(args.output) as f:
            numpy.savetxt(f, numpy.hstack(columns), delimiter=',', header=','.join(header),
                          comments='', fmt=['%d'] + ['%.6g'] * (len(header) - 1))
    counts = numpy.bincount(labels, minlength=est.n_clusters)
    print('{} points -> {} ({} clusters, sizes {})'.format(
        len(labels), args.output, est.n_clusters, counts.tolist()))
    return 0


def _add_evaluate(sub):
    p = sub.add_parser('evaluate', help='ACC/NMI/ARI of a saved model on labelled data')
    p.add_argument('--model', required=True, help='dec_model.npz of a run (or DEC.save)')
    p.add_argument('--dataset', required=True,
                   help='mnist, fashion-mnist, digits, or a labelled .npz/.csv file')
    p.add_argument('--device', default=None, type=device_type)
    p.set_defaults(func=_run_evaluate)


def _run_evaluate(args):
    from dec_chainer.estimator import DEC
    from dec_chainer.evaluations import eval_clustering
    from dec_chainer.reporting import format_table
    est = DEC.load(args.model, device=args.device)
    X, y = _load_for_model(args.dataset, est)
    if y is None:
        raise UserError('{} has no labels to evaluate against'.format(args.dataset))
    m = eval_clustering(y, est.predict(X))
    print(format_table([dict(data=args.dataset, n=len(y), **m)],
                       [('data', 'data'), ('n', 'points'), ('acc', 'ACC'), ('nmi', 'NMI'),
                        ('ari', 'ARI')]))
    return 0


def _add_plot(sub):
    p = sub.add_parser('plot', help='the figures of a run directory (t-SNE, curves, '
                                    'confusion)')
    p.add_argument('--run', required=True, help='a run directory written by train')
    p.add_argument('--points', type=int, default=500, help='points in the t-SNE figure')
    p.add_argument('--device', default=None, type=device_type,
                   help='device to embed on (default: the CPU)')
    p.set_defaults(func=_run_plot)


def _run_plot(args):
    from dec_chainer import _files
    from dec_chainer.estimator import DEC
    from dec_chainer.datasets import IMAGE_SHAPES
    from dec_chainer.experiment import MODEL_FILE, write_run_figures
    metrics_path = os.path.join(args.run, 'metrics.json')
    model_path = os.path.join(args.run, MODEL_FILE)
    for path in (metrics_path, model_path):
        if not os.path.exists(path):
            raise MissingFileError('{} is not a finished run directory (no {})'.format(
                args.run, os.path.basename(path)))
    check_writable(args.run)  # the figures go there: found before computing
    report = _files.read_json(metrics_path)
    est = DEC.load(model_path, device=args.device)
    X, y = _load_for_model(report['dataset'], est)
    n = report['n_cluster']
    written = write_run_figures(args.run, est, X[:n], None if y is None else y[:n],
                                seed=report['seed'], n_points=args.points,
                                image_shape=IMAGE_SHAPES.get(report['dataset']))
    for name, path in written.items():
        print('{}: {}'.format(name, path))
    return 0


def _add_compare(sub):
    p = sub.add_parser('compare', help='the paper and article presets side by side',
                       description='Run the paper and the article presets on the same data '
                                   'and seed (each in OUT/<preset>) and print one table. '
                                   '--set KEY=VALUE applies to every preset (e.g. a '
                                   'scaled-down schedule), --set PRESET.KEY=VALUE to one.')
    _add_run_options(p, 'default: runs/compare-<dataset>-seed<seed>')
    p.add_argument('--presets', nargs='+', default=['paper', 'article'])
    p.set_defaults(func=_run_compare)


#: The columns of ``compare``'s table.
COMPARE_COLUMNS = [('preset', 'preset'), ('ae_acc', 'AE+k-means ACC'), ('acc', 'DEC ACC'),
                   ('nmi', 'NMI'), ('ari', 'ARI'), ('iterations', 'DEC iterations'),
                   ('seconds', 'training time (s)', '{:.0f}')]


def _run_compare(args):
    from dec_chainer.experiment import (Job, default_name, describe_plan, parse_overrides,
                                        run_many, split_overrides)
    from dec_chainer.presets import get_config
    from dec_chainer.training import RunContext
    overrides = parse_overrides(args.set)
    per_preset = split_overrides(overrides, args.presets)
    for preset in args.presets:  # every configuration is checked before anything runs
        get_config(preset, **per_preset[preset])
    if args.dry_run:
        for preset in args.presets:
            print('[{}]'.format(preset))
            print(describe_plan(args.dataset, preset, per_preset[preset], args.clusters))
        return 0
    out = args.out or os.path.join('runs', default_name('compare', args.dataset, args.seed))
    jobs = [Job(preset, preset, per_preset[preset], {'preset': preset})
            for preset in args.presets]
    run_many(jobs, args.dataset, args.seed, out, os.path.join(out, 'compare'),
             COMPARE_COLUMNS, args.clusters, RunContext(
                 args.device, progress=not args.no_progress,
                 command=['dec-chainer'] + args.argv))
    return 0


def _add_choose_k(sub):
    p = sub.add_parser(
        'choose-k', help='the number of clusters without labels (the paper\'s Figure 6)',
        description='Run DEC for each K of --candidates on one autoencoder (pretrained once '
                    'on the training rows, or --pretrained DIR) with the last --held-out rows '
                    'held out, and report per K the paper\'s generalizability G = L_train / '
                    'L_validation (and NMI, ACC where the data has labels); the choice is the '
                    'K before the largest drop of G. Writes OUT/choose-k.json, .md and .png.')
    _add_run_options(p, 'default: runs/choose-k-<dataset>-seed<seed>', clusters=False)
    p.add_argument('--preset', default='quick', choices=sorted(PRESETS))
    p.add_argument('--candidates', type=int, nargs='+', required=True, metavar='K')
    p.add_argument('--held-out', type=float, default=0.1,
                   help='a fraction of the rows, or a number of rows (the last ones; '
                        'shuffle ordered data first)')
    p.add_argument('--pretrained', default=None, metavar='DIR')
    p.set_defaults(func=_run_choose_k)


def _run_choose_k(args):
    from dec_chainer.experiment import (default_name, describe_plan, parse_overrides,
                                        run_choose_k)
    from dec_chainer.training import RunContext
    from dec_chainer.datasets import load_dataset
    from dec_chainer.estimator import held_out_split
    out = args.out or os.path.join('runs', default_name('choose-k', args.dataset, args.seed))
    if args.dry_run:  # the plan of the first K, with the rows it holds out
        n_train, n_val, config = held_out_split(
            len(load_dataset(args.dataset)[0]), args.held_out, args.candidates,
            parse_overrides(args.set), args.preset)
        print(describe_plan(args.dataset, args.preset, config, min(args.candidates)))
        print('K in {}: the first {} rows train, the last {} are held out; runs in '
              '{}/k<K>'.format(sorted(set(args.candidates)), n_train, n_val, out))
        return 0
    run_choose_k(args.dataset, args.preset, parse_overrides(args.set), args.candidates,
                 args.held_out, args.seed, out, RunContext(
                     args.device, log=print, progress=not args.no_progress,
                     command=['dec-chainer'] + args.argv), args.pretrained)
    print('table and figure in {}'.format(os.path.join(out, 'choose-k.*')))
    return 0


#: set to 1, the traceback of a user's error is shown as well (as ``--traceback``)
TRACEBACK_VARIABLE = 'DEC_CHAINER_TRACEBACK'


def build_parser():
    parser = argparse.ArgumentParser(
        prog='dec-chainer', formatter_class=argparse.RawDescriptionHelpFormatter,
        description='Deep Embedded Clustering (Xie, Girshick & Farhadi, ICML 2016) on '
                    'Chainer 7.8.1.')
    parser.add_argument('--version', action='version', version=version_string(),
                        help='print the versions of dec-chainer, Chainer, NumPy and Python')
    parser.add_argument('--traceback', action='store_true',
                        help='show the traceback of an error in the data, the settings or a '
                             'file too (they are one line otherwise; also '
                             '{}=1)'.format(TRACEBACK_VARIABLE))
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    _add_train(sub, 'train', 'the whole DEC pipeline: pretraining, k-means, DEC',
               'Pretrain the stacked autoencoder, initialise the centroids with k-means and '
               'train DEC; print ACC/NMI/ARI per phase when labels are known. A run killed '
               'midway resumes when started again with the same --out (or --resume DIR).')
    _add_train(sub, 'pretrain', 'phase 1 only: the stacked denoising autoencoder',
               'Pretrain the autoencoder into --out; `cluster --pretrained DIR` then reuses '
               'it.', stop_after='pretrain')
    _add_train(sub, 'cluster', 'phase 2 only: k-means and DEC on a pretrained autoencoder',
               'Run k-means and DEC using the autoencoder pretrained in --pretrained DIR '
               '(same pretraining settings, seed and data), or in --out itself.')
    _add_predict(sub)
    _add_evaluate(sub)
    _add_plot(sub)
    _add_compare(sub)
    _add_choose_k(sub)
    _add_baseline(sub)
    return parser


def main(argv=None):
    signal.signal(signal.SIGINT, signal.default_int_handler)  # see dec_chainer/_launch.py
    command = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)
        if args.command is None:
            parser.print_help()
            return 2
        command = args.command
        code = _run_command(args)
    except KeyboardInterrupt:
        print('dec-chainer{}: interrupted{}'.format(
            '' if command is None else ' ' + command,
            '' if command is None else '; the same command resumes a run from its last '
                                       'snapshot'), file=sys.stderr)
        code = 130
    if _launch.started_as_command():
        # the command has ended: a Ctrl-C while the interpreter exits changes nothing
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


def _run_command(args):
    if distributed.launched_size() > 1 and not hasattr(args, 'communicator'):
        print('dec-chainer {}: error: started by mpiexec with {} processes, but only train, '
              'pretrain and cluster run data-parallel; run {} as one process'.format(
                  args.command, distributed.launched_size(), args.command), file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            for category in _warnings_to_show():
                warnings.simplefilter('always', category)
            return args.func(args)
    except (UserError, OSError) as e:
        if not isinstance(e, UserError) and e.errno is None:
            raise  # an OSError of ours that is not the user's: a bug, with its traceback
        # the user's data, settings or files, or the system's (a full disk, no permission)
        comm = getattr(args, 'comm', None)
        if args.traceback or os.environ.get(TRACEBACK_VARIABLE, '') not in ('', '0'):
            traceback.print_exc()
        print('dec-chainer {}: error{}: {}'.format(
            args.command, '' if comm is None else ' on rank {}'.format(comm.rank), e),
            file=sys.stderr)
        if comm is not None:  # the other ranks may wait in a collective: end them all
            sys.stderr.flush()
            comm.mpi_comm.Abort(2)
        return 2


def _warnings_to_show():
    """What a run or a prediction says about the user's data and result: shown every time,
    as one line (:func:`_show_warning`)."""
    from dec_chainer.estimator import InputRangeWarning
    from dec_chainer.runs import DataScaleWarning, DegenerateClusteringWarning
    return DataScaleWarning, DegenerateClusteringWarning, InputRangeWarning


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A warning as one line of the command's output (no source line): ``warning: ...``."""
    print('dec-chainer: warning: {}'.format(message), file=sys.stderr if file is None else file)


if __name__ == '__main__':
    sys.exit(main())
