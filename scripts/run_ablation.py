#!/usr/bin/env python
"""What each of the article's choices costs: the article preset with one choice at a time
switched to the paper's (``dec_chainer.presets.ARTICLE_CHOICES``), plus both presets whole.

    .venv/bin/python scripts/run_ablation.py --dataset mnist --seed 0 \\
        --set layerwise_iters=5000 finetune_iters=10000 lr_step=2000 paper.dec_max_iter=5000 \\
        --pretrained runs/compare-mnist-seed0-tenth/article runs/compare-mnist-seed0-tenth/paper

Each variant runs in OUT/<variant>. --set KEY=VALUE applies to both presets (a scaled-down
schedule), --set paper.KEY=VALUE or article.KEY=VALUE to one; a switched choice takes the
paper configuration's values, overrides included. A variant whose autoencoder settings
equal those of a finished run (one given with --pretrained, or an earlier variant) reuses
that autoencoder: switching a DEC-phase choice retrains only the DEC phase. A killed
ablation resumes where it stopped when started again with the same --out.

Writes RESULTS/NAME.json (rows, settings, provenance) and RESULTS/NAME.md (the table), both
rewritten after every variant.
"""

import argparse
import json
import os
import sys
import time

from dec_chainer.datasets import load_dataset
from dec_chainer.experiment import (_json_default, parse_overrides, run_experiment,
                                    split_overrides)
from dec_chainer.presets import article_ablation, get_config
from dec_chainer.provenance import provenance
from dec_chainer.reporting import format_table
from dec_chainer.training.pipeline import check_pretrained


def plan(overrides, only=None):
    """[(variant, preset, overrides, switched)] of the ablation, every configuration checked."""
    per = split_overrides(overrides, ('paper', 'article'))
    article, paper = get_config('article', **per['article']), get_config('paper', **per['paper'])
    variants = [(name, 'article', dict(per['article'], **switched), switched)
                for name, switched in article_ablation(article, paper)]
    variants.append(('paper', 'paper', per['paper'], None))
    if only:
        missing = sorted(set(only) - {v[0] for v in variants})
        if missing:
            raise ValueError('no variant(s) {}; the ablation has {}'.format(
                ', '.join(missing), ', '.join(v[0] for v in variants)))
        variants = [v for v in variants if v[0] in only]
    for _, preset, ov, _ in variants:
        get_config(preset, **ov)
    return variants


def find_pretrained(candidates, config, seed, X):
    """The first run directory among ``candidates`` holding this autoencoder, or None."""
    for source in candidates:
        try:
            check_pretrained(source, config, seed, X)
        except (ValueError, FileNotFoundError):
            continue
        return source
    return None


def describe(switched):
    if switched is None:
        return 'every choice (the paper preset)'
    if not switched:
        return 'none (the article preset)'
    return ', '.join('{}={}'.format(k, v) for k, v in switched.items())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dataset', default='mnist')
    p.add_argument('--clusters', type=int, default=None)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='-1')
    p.add_argument('--out', default=None, help='default: runs/ablation-<dataset>-seed<seed>')
    p.add_argument('--results', default='results/ablation')
    p.add_argument('--name', default=None, help='result file stem')
    p.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE')
    p.add_argument('--pretrained', nargs='*', default=[], metavar='DIR',
                   help='finished run directories whose autoencoders may be reused')
    p.add_argument('--only', nargs='*', default=None, metavar='VARIANT')
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--dry-run', action='store_true', help='print the plan, train nothing')
    args = p.parse_args(argv)
    device = int(args.device) if args.device.lstrip('-').isdigit() else args.device
    overrides = parse_overrides(args.set)
    variants = plan(overrides, args.only)
    name = args.name or 'ablation-{}-seed{}'.format(args.dataset, args.seed)
    out = args.out or os.path.join('runs', name)
    if args.dry_run:
        for variant, preset, ov, switched in variants:
            print('{:15s} {} preset, switched: {}'.format(variant, preset, describe(switched)))
        return 0

    origin = provenance(['python', 'scripts/run_ablation.py'] + sys.argv[1:])
    scaled = {}  # the data as each variant's scale makes it (reuse compares its digest)

    def data(config):
        if config.scale not in scaled:
            scaled[config.scale] = load_dataset(args.dataset, scale=config.scale)[0]
        return scaled[config.scale]

    os.makedirs(args.results, exist_ok=True)
    order = [v[0] for v in variants]
    # variants that can reuse a given autoencoder first: their (cheap) rows come early
    def ready(variant):
        config = get_config(variant[1], **variant[2])
        return find_pretrained(args.pretrained, config, args.seed, data(config)) is not None

    variants.sort(key=lambda v: not ready(v))
    rows, t0 = [], time.time()
    for variant, preset, ov, switched in variants:
        run_dir = os.path.join(out, variant)
        config = get_config(preset, **ov)
        source = None
        if not os.path.exists(os.path.join(run_dir, 'pretrain', 'finetune.npz')):
            others = [os.path.join(out, v) for v in order if v != variant]
            source = find_pretrained(list(args.pretrained) + others, config, args.seed,
                                     data(config))
        print('\n=== {}: switched {}{}'.format(
            variant, describe(switched), ', reusing the autoencoder of ' + source
            if source else ''))
        _, r = run_experiment(args.dataset, preset, ov, args.clusters, args.seed, device,
                              run_dir, not args.no_progress, figures=False,
                              pretrained=source, argv=origin['command'].split())
        m, s = r['metrics'], r['seconds']
        rows.append({'variant': variant, 'switched': describe(switched),
                     'ae_acc': m['ae_kmeans']['acc'], 'acc': m['dec']['acc'],
                     'nmi': m['dec']['nmi'], 'ari': m['dec']['ari'],
                     'iterations': r['dec']['iterations'],
                     'pretrain_s': s['pretrain'], 'dec_s': s['dec'],
                     'pretrained_from': r.get('pretrained_from')})
        rows.sort(key=lambda row: order.index(row['variant']))
        base = next((row['acc'] for row in rows if row['variant'] == 'article'), None)
        for row in rows:
            row['delta_acc'] = None if base is None else row['acc'] - base
        table = format_table(rows, [
            ('variant', 'switched to the paper'), ('switched', 'settings'),
            ('ae_acc', 'AE+k-means ACC'), ('acc', 'DEC ACC'),
            ('delta_acc', 'vs article', '{:+.4f}'), ('nmi', 'NMI'), ('ari', 'ARI'),
            ('iterations', 'DEC iterations'), ('pretrain_s', 'pretrain (s)', '{:.0f}'),
            ('dec_s', 'DEC (s)', '{:.0f}')])
        with open(os.path.join(args.results, name + '.json'), 'w') as f:
            json.dump({'dataset': args.dataset, 'seed': args.seed, 'overrides': overrides,
                       'rows': rows, 'provenance': origin,
                       'wall_seconds': round(time.time() - t0, 1)}, f, indent=2,
                      default=_json_default)
        with open(os.path.join(args.results, name + '.md'), 'w') as f:
            f.write('dataset {}, seed {}, overrides {}\n\n```\n{}\n```\n'.format(
                args.dataset, args.seed, overrides or 'none', table))
        print('\n' + table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
