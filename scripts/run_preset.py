#!/usr/bin/env python
"""Run one DEC preset on a data set and write its result (JSON + Markdown) under results/.

    .venv/bin/python scripts/run_preset.py --preset quick --dataset mnist --seed 0 \
        --out runs/quick-mnist-s0 --results results/quick

A run killed midway resumes from its snapshots when started again with the same --out.
"""

import argparse
import json
import os
import sys
import time

import numpy

import dec_chainer
from dec_chainer.datasets import load_dataset
from dec_chainer.provenance import provenance


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='quick', choices=sorted(dec_chainer.PRESETS))
    p.add_argument('--dataset', default='mnist')
    p.add_argument('--clusters', type=int, default=10)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='-1')
    p.add_argument('--out', required=True, help='run directory (snapshots, logs)')
    p.add_argument('--results', default='results', help='where the JSON/Markdown go')
    p.add_argument('--name', default=None, help='result file stem')
    p.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                   help='override preset values (JSON values), e.g. dec_max_iter=2000')
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)

    overrides = {}
    for item in args.set:
        key, _, value = item.partition('=')
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    config = dec_chainer.get_config(args.preset, **overrides)
    device = int(args.device) if args.device.lstrip('-').isdigit() else args.device

    t0 = time.time()
    X, y = load_dataset(args.dataset, scale=config.scale)
    load_s = time.time() - t0
    model, report = dec_chainer.fit_dec(X, y, args.clusters, config, out=args.out,
                                        device=device, seed=args.seed,
                                        progress=not args.no_progress)
    wall = time.time() - t0
    report.pop('labels')
    report['seconds']['load'] = round(load_s, 2)
    report['seconds']['total'] = round(wall, 2)
    report.update(preset=args.preset, dataset=args.dataset, overrides=overrides,
                  provenance=provenance([os.path.basename(sys.executable)] + sys.argv))
    name = args.name or '{}-{}-seed{}'.format(args.preset, args.dataset, args.seed)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, name + '.json'), 'w') as f:
        json.dump(report, f, indent=2, default=lambda o: o.item()
                  if isinstance(o, numpy.generic) else str(o))
    m = report['metrics']
    print('\n{}: seed {}, total {:.0f} s (pretrain {:.0f} s, k-means {:.0f} s, DEC {:.0f} s, '
          '{} iterations)'.format(name, args.seed, wall, report['seconds']['pretrain'],
                                  report['seconds']['kmeans'], report['seconds']['dec'],
                                  report['dec']['iterations']))
    for phase in ('ae_kmeans', 'dec'):
        if m.get(phase):
            print('  {:10s} ACC {acc:.4f}  NMI {nmi:.4f}  ARI {ari:.4f}'.format(
                phase, **m[phase]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
