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
import os
import sys

from dec_chainer.cli import device_type
from dec_chainer.experiment import Job, parse_overrides, run_many, split_overrides
from dec_chainer.presets import article_ablation, get_config
from dec_chainer.training import RunContext

COLUMNS = [('variant', 'switched to the paper'), ('switched', 'settings'),
           ('ae_acc', 'AE+k-means ACC'), ('acc', 'DEC ACC'), ('delta_acc', 'vs article', '{:+.4f}'),
           ('nmi', 'NMI'), ('ari', 'ARI'), ('iterations', 'DEC iterations'),
           ('pretrain_s', 'pretrain (s)', '{:.0f}'), ('dec_s', 'DEC (s)', '{:.0f}')]


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


def describe(switched):
    if switched is None:
        return 'every choice (the paper preset)'
    if not switched:
        return 'none (the article preset)'
    return ', '.join('{}={}'.format(k, v) for k, v in switched.items())


def relative_to_article(rows):
    """Each row's DEC ACC minus the article preset's (when that has run)."""
    base = next((row['acc'] for row in rows if row['variant'] == 'article'), None)
    for row in rows:
        row['delta_acc'] = None if base is None else row['acc'] - base


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dataset', default='mnist')
    p.add_argument('--clusters', type=int, default=None)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='-1', type=device_type)
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
    overrides = parse_overrides(args.set)
    variants = plan(overrides, args.only)
    if args.dry_run:
        for variant, preset, ov, switched in variants:
            print('{:15s} {} preset, switched: {}'.format(variant, preset, describe(switched)))
        return 0
    name = args.name or 'ablation-{}-seed{}'.format(args.dataset, args.seed)
    jobs = [Job(variant, preset, ov, {'variant': variant, 'switched': describe(switched)})
            for variant, preset, ov, switched in variants]
    context = RunContext(args.device, progress=not args.no_progress, command=[
        'python', 'scripts/run_ablation.py'] + list(sys.argv[1:] if argv is None else argv))
    run_many(jobs, args.dataset, args.seed, args.out or os.path.join('runs', name),
             os.path.join(args.results, name), COLUMNS, args.clusters, context,
             pretrained=args.pretrained, finish=relative_to_article)
    return 0


if __name__ == '__main__':
    sys.exit(main())
