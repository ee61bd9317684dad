#!/usr/bin/env python
"""Summarise the committed run results (results/<group>/*.json) as Markdown tables.

    .venv/bin/python scripts/summarize_results.py results/quick > results/quick/README.md
    .venv/bin/python scripts/summarize_results.py --overview results
    .venv/bin/python scripts/summarize_results.py --speeds results/paper

One row per run (seed, ACC/NMI/ARI after AE+k-means and after DEC, DEC iterations, wall
time per phase), then the mean and standard deviation over the runs. ``--overview`` prints
the tables of results/README.md from every group (baselines, quick runs, paper vs article,
the original repository, the ablation), next to the published numbers. ``--speeds DIR``
prints the pretraining speed of the full run in DIR, stage by stage, from the stage logs it
keeps in ``DIR/stage-logs/`` (each stage's Chainer LogReport), against the benchmark of
``results/bench/bench_train_stages.json``.
"""

import argparse
import glob
import json
import os
import statistics
import sys

from dec_chainer.reporting import PUBLISHED_MNIST, machine_line, markdown_table


def load(directory):
    runs = []
    for path in sorted(glob.glob(os.path.join(directory, '*.json'))):
        if path.endswith('.dec_log.json'):
            continue
        with open(path) as f:
            r = json.load(f)
        if 'metrics' in r and 'seconds' in r:
            r['_file'] = os.path.basename(path)
            runs.append(r)
    return runs


def fmt(values, digits=4):
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    if len(values) == 1:
        return '{:.{}f}'.format(values[0], digits)
    return '{:.{}f} ± {:.{}f}'.format(statistics.mean(values), digits,
                                      statistics.stdev(values), digits)


def table(runs):
    header = ['run', 'seed', 'AE+k-means ACC', 'DEC ACC', 'DEC NMI', 'DEC ARI',
              'DEC iterations', 'pretrain (s)', 'k-means (s)', 'DEC (s)', 'total (s)']
    rows = []
    for r in runs:
        m, s = r['metrics'], r['seconds']
        rows.append([r['_file'][:-5], r['seed']]
                    + ['{:.4f}'.format(v) for v in (m['ae_kmeans']['acc'], m['dec']['acc'],
                                                    m['dec']['nmi'], m['dec']['ari'])]
                    + [r['dec']['iterations']]
                    + ['{:.0f}'.format(v) for v in (s['pretrain'], s['kmeans'], s['dec'],
                                                    s.get('total', 0))])
    if len(runs) > 1:
        col = lambda f: [f(r) for r in runs]  # noqa: E731
        rows.append(['mean ± sd', '',
                     fmt(col(lambda r: r['metrics']['ae_kmeans']['acc'])),
                     fmt(col(lambda r: r['metrics']['dec']['acc'])),
                     fmt(col(lambda r: r['metrics']['dec']['nmi'])),
                     fmt(col(lambda r: r['metrics']['dec']['ari'])), '', '', '', '',
                     fmt(col(lambda r: r['seconds'].get('total')), 0)])
    return markdown_table(header, rows)


def published(key):
    return '{:g}'.format(PUBLISHED_MNIST[key][0])


#: The DEC row's published column.
PUBLISHED_DEC = '{} (paper, best of 9 update intervals); {} (DEC-keras, mean)'.format(
    published('dec'), published('dec_keras'))


def _json(path):
    with open(path) as f:
        return json.load(f)


def _row(method, protocol, runs, accs, nmis, aris, published='-'):
    return [method, protocol, runs, fmt(accs), fmt(nmis), fmt(aris), published]


def _phase_rows(name, protocol, results, published=(None, None)):
    """AE+k-means and DEC rows from a list of {'ae_kmeans': m, 'dec': m} dicts."""
    out = []
    for phase, label, pub in (('ae_kmeans', 'AE+k-means', published[0]),
                              ('dec', 'DEC', published[1])):
        ms = [r[phase] for r in results if r.get(phase)]
        out.append(_row('{}, {}'.format(label, name), protocol, len(ms),
                        [m['acc'] for m in ms], [m['nmi'] for m in ms],
                        [m['ari'] for m in ms], pub or '-'))
    return out


def _fraction(x):
    """0.1 -> '1/10', 1 -> 'as published', 0.25 -> '1/4', 0.3 -> '0.3x'."""
    if x == 1:
        return 'as published'
    inv = 1 / x
    return '1/{:d}'.format(round(inv)) if abs(inv - round(inv)) < 1e-9 else '{:g}x'.format(x)


def overview(root):
    """The Markdown tables of results/README.md, from the JSON files under ``root``."""
    head = ['method', 'protocol', 'runs', 'ACC', 'NMI', 'ARI', 'published ACC']
    mnist = []
    base = os.path.join(root, 'baselines', 'kmeans-raw-mnist.json')
    if os.path.exists(base):
        b = _json(base)
        mnist.append(_row('k-means, raw pixels', '{:,} points, {} restarts'.format(
            b['n_samples'], b['n_init']), 1, [b['acc']], [b['nmi']], [b['ari']],
            published('kmeans')))
    quick = load(os.path.join(root, 'quick'))
    if quick:
        mnist += _phase_rows('`quick` preset', '70,000 points, end-to-end AE only',
                             [r['metrics'] for r in quick],
                             (published('ae_kmeans'), PUBLISHED_DEC))
    for preset, points in (('paper', '70,000 points'), ('article', '60,000 points')):
        full = load(os.path.join(root, preset))  # the full schedules
        if full:
            mnist += _phase_rows('`{}` preset'.format(preset),
                                 '{}, schedule as published'.format(points),
                                 [r['metrics'] for r in full],
                                 (published('ae_kmeans'), PUBLISHED_DEC))
    from dec_chainer.presets import PAPER
    compare = [_json(p) for p in
               sorted(glob.glob(os.path.join(root, 'compare', 'paper-vs-article-*.json')))]
    # group the seeds of one schedule: the pretraining's fraction of the paper's
    fraction = lambda c: _fraction(c['overrides'].get(  # noqa: E731
        'layerwise_iters', PAPER.layerwise_iters) / PAPER.layerwise_iters)
    for frac in sorted({fraction(c) for c in compare}):
        for preset, points in (('paper', '70,000 points'), ('article', '60,000 points')):
            res = [r for c in compare if fraction(c) == frac
                   for r in c['rows'] if r['preset'] == preset]
            if res:
                mnist += _phase_rows('`{}` preset'.format(preset), '{}, pretraining {}'.format(
                    points, frac), [
                    {'ae_kmeans': {'acc': r['ae_acc'], 'nmi': r.get('ae_nmi'),
                                   'ari': r.get('ae_ari')},
                     'dec': {'acc': r['acc'], 'nmi': r['nmi'], 'ari': r['ari']}}
                    for r in res])
    originals = [_json(p) for p in sorted(glob.glob(os.path.join(root, 'original', '*.json')))]
    for scale in sorted({o['scale'] for o in originals}, reverse=True):  # the full one first
        mnist += _phase_rows('original repository', '60,000 points, its schedule {}'.format(
            _fraction(scale)), [o['metrics'] for o in originals if o['scale'] == scale],
            (published('ae_kmeans'), PUBLISHED_DEC) if scale == 1 else (None, None))

    other = []
    for dataset, group in (('fashion-mnist', 'quick-fashion'), ('digits', 'quick-digits')):
        base = os.path.join(root, 'baselines', 'kmeans-raw-{}.json'.format(dataset))
        runs = load(os.path.join(root, group))
        if not (runs or os.path.exists(base)):
            continue
        if os.path.exists(base):
            b = _json(base)
            other.append(_row('k-means, raw pixels', '{}, {:,} points'.format(
                dataset, b['n_samples']), 1, [b['acc']], [b['nmi']], [b['ari']]))
        if runs:
            other += _phase_rows('`quick` preset', '{}, {:,} points'.format(
                dataset, runs[0]['n_cluster']), [r['metrics'] for r in runs])
    lines = ['### MNIST', '', markdown_table(head, mnist)]
    if other:
        lines += ['', '### Fashion-MNIST and digits', '', markdown_table(head, other)]

    for path in sorted(glob.glob(os.path.join(root, 'ablation', '*.json'))):
        a = _json(path)
        lines += ['', '### The article\'s choices, one at a time ({}, seed {})'.format(
            a['dataset'], a['seed']), '', markdown_table(
            ['switched to the paper\'s', 'settings', 'AE+k-means ACC', 'DEC ACC',
             'vs article', 'DEC NMI', 'DEC iterations'],
            [[r['variant'], r['switched'], '{:.4f}'.format(r['ae_acc']),
              '{:.4f}'.format(r['acc']), '{:+.4f}'.format(r['delta_acc']),
              '{:.4f}'.format(r['nmi']), r['iterations']] for r in a['rows']])]
    for section in (protocol(root), choose_k(root), imbalance(root)):
        if section:
            lines += ['', section]
    return '\n'.join(lines)


def verdict(ours, key, tolerance=0.01):
    """``reproduced`` when ``ours`` is within ``tolerance`` of the published ACC ``key``."""
    diff = ours - PUBLISHED_MNIST[key][0]
    return '{} ({:+.2f} points against the published {:.2f} %)'.format(
        'reproduced' if abs(diff) <= tolerance else 'not reproduced', 100 * diff,
        100 * PUBLISHED_MNIST[key][0])


def protocol(root):
    """The paper's protocol on one pretrained autoencoder (``scripts/run_paper_protocol.py``):
    its tables and verdicts, from ``root/paper/protocol/*.json``."""
    d = os.path.join(root, 'paper', 'protocol')
    parts = {n: _json(os.path.join(d, n + '.json')) for n in ('lambda', 'frozen', 'seeds')
             if os.path.exists(os.path.join(d, n + '.json'))}
    if not parts:
        return ''
    head = ['lambda', 'k-means start', 'AE+k-means ACC', 'DEC ACC', 'NMI', 'ARI',
            'DEC iterations', 'DEC (s)']
    lines = ['### The paper\'s protocol on the shipped autoencoder (MNIST-70k, `paper` preset)',
             '', 'Verdicts: reproduced when within 1 point of ACC of the published number.']
    for name, page in parts.items():
        rows = page['rows']
        lines += ['', '**{}** (`{}`, seed 0; {}; {:.0f} min of wall time):'.format({
            'lambda': 'The nine update intervals', 'frozen': 'DEC without backpropagation',
            'seeds': 'Five k-means starts'}[name], page['provenance']['command'],
            machine_line(page['provenance']), page['wall_seconds'] / 60), '',
            markdown_table(head, [[r['lambda'], r['cluster_seed'], '{:.4f}'.format(
                r['ae_acc']), '{:.4f}'.format(r['acc']), '{:.4f}'.format(r['nmi']),
                '{:.4f}'.format(r['ari']), r['iterations'], '{:.0f}'.format(r['dec_s'])]
                for r in rows]), '']
        if name == 'lambda':
            best = max(rows, key=lambda r: r['acc'])
            lines.append('- best of {}: DEC ACC {:.4f} at lambda = {}: {}; mean of {}: {}'.format(
                len(rows), best['acc'], best['lambda'], verdict(best['acc'], 'dec'),
                len(rows), fmt([r['acc'] for r in rows])))
        elif name == 'frozen':
            lines.append('- DEC without backpropagation: ACC {:.4f}: {}'.format(
                rows[0]['acc'], verdict(rows[0]['acc'], 'dec_no_backprop')))
        else:
            for lam in sorted({r['lambda'] for r in rows}):
                these = [r for r in rows if r['lambda'] == lam]
                lines.append('- lambda = {}, {} k-means starts: DEC ACC {}, AE+k-means ACC '
                             '{}'.format(lam, len(these), fmt([r['acc'] for r in these]),
                                         fmt([r['ae_acc'] for r in these])))
    return '\n'.join(lines)


def _provenance_line(page):
    return '`{}`, seed {}; {}; {:.0f} min of wall time'.format(
        page['provenance']['command'], page['seed'], machine_line(page['provenance']),
        page['wall_seconds'] / 60)


def choose_k(root):
    """The number of clusters by generalizability (``dec-chainer choose-k``, the paper's
    Figure 6), from ``root/paper/protocol/choose-k.json``."""
    path = os.path.join(root, 'paper', 'protocol', 'choose-k.json')
    if not os.path.exists(path):
        return ''
    page = _json(path)
    rows = page['rows']
    best_acc, best_nmi = (max(rows, key=lambda r: r[m]) for m in ('acc', 'nmi'))
    return '\n'.join([
        '### The number of clusters without labels ({}, {})'.format(
            page['dataset'], 'the autoencoder of `{}`'.format(page['pretrained'])
            if page['pretrained'] else 'one autoencoder pretrained on the training rows'), '',
        '{} ({} rows train, the last {} are held out):'.format(
            _provenance_line(page), page['n_train'], page['n_held_out']), '',
        markdown_table(['K', 'G = L_train / L_val', 'L_train', 'L_val', 'NMI', 'ACC'], [
            [r['n_clusters'], '{:.4f}'.format(r['generalizability']),
             '{:.4g}'.format(r['l_train']), '{:.4g}'.format(r['l_validation']),
             '{:.4f}'.format(r['nmi']), '{:.4f}'.format(r['acc'])] for r in rows]), '',
        '- chosen without labels (the K before the largest drop of G): K = {}{}'.format(
            page['choice'], '' if page['dataset'] != 'mnist' else '; {} the 10 digit '
            'classes'.format('as many as' if page['choice'] == 10 else 'not')),
        '- the K of the highest NMI: {} (NMI {:.4f}); of the highest ACC: {} (ACC '
        '{:.4f})'.format(best_nmi['n_clusters'], best_nmi['nmi'], best_acc['n_clusters'],
                         best_acc['acc']), '',
        '![K by generalizability](paper/protocol/choose-k.png)'])


def imbalance(root):
    """k-means, AE+k-means and DEC on imbalanced subsets (``scripts/run_imbalance.py``,
    the paper's Table 4), from ``root/imbalance/*.json``."""
    lines = []
    for path in sorted(glob.glob(os.path.join(root, 'imbalance', '*.json'))):
        page = _json(path)
        made_by = {}  # the commands that made the rows: r_min values
        for r in sorted(page['rows'], key=lambda r: r['r_min']):
            prov = r.get('provenance', page['provenance'])
            made_by.setdefault('`{}`; {}'.format(prov['command'], machine_line(prov)),
                               []).append('{:g}'.format(r['r_min']))
        lines += ['', '### Imbalanced subsets of {} ({}, seed {})'.format(
            page['dataset'], page['pretraining'], page['seed']), '',
            (_provenance_line(page) if len(made_by) == 1 else 'seed {}; {}'.format(
                page['seed'], '; '.join('r_min = {} made by {}'.format(', '.join(r), c)
                                        for c, r in made_by.items()))) +
            ' (the runs: {:.0f} min of training in all; a killed or finished run is resumed '
            'or loaded, so a pass over finished runs is quick):'.format(
                sum(r['seconds'] for r in page['rows']) / 60), '', markdown_table(
            ['r_min', 'points', 'smallest class', 'largest class', 'k-means ACC',
             'AE+k-means ACC', 'DEC ACC', 'DEC NMI', 'DEC iterations'],
            [['{:g}'.format(r['r_min']), r['n'], r['smallest'], r['largest'],
              '{:.4f}'.format(r['kmeans_acc']), '{:.4f}'.format(r['ae_acc']),
              '{:.4f}'.format(r['acc']), '{:.4f}'.format(r['nmi']), r['iterations']]
             for r in sorted(page['rows'], key=lambda r: r['r_min'])]), '',
            '- DEC above AE+k-means on {} of {} subsets, above k-means on raw pixels on '
            '{} of {}'.format(sum(r['acc'] > r['ae_acc'] for r in page['rows']),
                              len(page['rows']),
                              sum(r['acc'] > r['kmeans_acc'] for r in page['rows']),
                              len(page['rows'])),
            '- no published column: the paper\'s Table 4 numbers are in no source this '
            'project could read, and they are not written from memory; the paper pretrains '
            'each subset with its full schedule']
    return '\n'.join(lines[1:])


def stretch_paces(log):
    """ms per iteration over each stretch between two entries of a LogReport log (a list
    of ``{'iteration', 'elapsed_time', ...}``)."""
    paces, t0, i0 = [], 0.0, 0
    for entry in log:
        paces.append(1e3 * (entry['elapsed_time'] - t0) / (entry['iteration'] - i0))
        t0, i0 = entry['elapsed_time'], entry['iteration']
    return paces


def speeds(directory, bench=None):
    """A full run's pretraining speed per stage (Markdown): ms per iteration over each
    logged stretch (median, fastest, slowest) against the benchmark's (the preset's column
    of ``bench``, default ``results/bench/bench_train_stages.json`` beside ``directory``),
    then the run's wall time and what it would have been at the fastest stretches' pace and
    at the benchmark's (the other phases as measured)."""
    (run,) = load(directory)
    if bench is None:
        bench = os.path.join(os.path.dirname(os.path.abspath(directory)), 'bench',
                             'bench_train_stages.json')
    bench = _json(bench)
    preset = run['preset']
    bench = {r['stage'].split()[0]: r for r in bench['rows']}  # 'layer1 784-500-784'
    rows, at_fastest, at_bench, stretches = [], 0.0, 0.0, set()
    for stage, info in run['pretrain'].items():  # layer1..layer4, finetune: the run's order
        b = bench[stage]
        log = _json(os.path.join(directory, 'stage-logs', stage + '.json'))
        stretches.add(log[0]['iteration'])
        paces = stretch_paces(log)
        n = info['iterations']
        at_fastest += n * min(paces) / 1e3
        at_bench += n * b[preset + '_ms'] / 1e3
        rows.append(['{} ({})'.format(stage, b['stage'].split()[1]), '{:,}'.format(n),
                     '{:,.0f}'.format(info['seconds'])]
                    + ['{:.2f}'.format(v) for v in (statistics.median(paces), min(paces),
                                                    max(paces), b[preset + '_ms'],
                                                    b['floor_ms'])])
    s = run['seconds']
    rest = s['total'] - s['pretrain']
    lines = [markdown_table(['stage', 'iterations', 'seconds', 'median', 'fastest', 'slowest',
                             'bench', 'GEMM floor'], rows), '',
             'ms per iteration over each stretch of {} iterations of the stage\'s log; bench: the '
             'benchmark\'s (`bench_train_stages.md`). Whole run: {:,.0f} s ({:.0f} min), of which '
             'pretraining {:,.0f} s. At its fastest stretches\' pace: {:.0f} min; at the '
             'benchmark\'s: {:.0f} min (the other phases as measured).'.format(
                 ' or '.join('{:,}'.format(n) for n in sorted(stretches)), s['total'],
                 s['total'] / 60, s['pretrain'], (at_fastest + rest) / 60,
                 (at_bench + rest) / 60)]
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        epilog='Without --overview or --speeds: one table per DIR (default results/quick).')
    mode = p.add_mutually_exclusive_group()
    mode.add_argument('--overview', action='store_true',
                      help="the tables of results/README.md from every group under DIR "
                           "(default 'results')")
    mode.add_argument('--speeds', action='store_true',
                      help='the pretraining speed of the full run in each DIR, stage by stage')
    p.add_argument('dirs', nargs='*', metavar='DIR')
    args = p.parse_args(argv)
    if args.overview:
        print(overview(args.dirs[0] if args.dirs else 'results'))
        return 0
    if args.speeds:
        for directory in args.dirs:
            print(speeds(directory))
        return 0
    for directory in args.dirs or ['results/quick']:
        runs = load(directory)
        if not runs:
            print('no runs in {}'.format(directory), file=sys.stderr)
            continue
        print(table(runs))
    return 0


if __name__ == '__main__':
    sys.exit(main())
