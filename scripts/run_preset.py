#!/usr/bin/env python
"""Run one DEC preset on a data set and commit-ready results: JSON + a Markdown line.

    .venv/bin/python scripts/run_preset.py --preset quick --dataset mnist --seed 0 \
        --out runs/quick-mnist-s0 --results results/quick

Writes ``RESULTS/NAME.json`` (metrics and wall time per phase, configuration, command, git
commit, seed, machine, versions) and ``RESULTS/NAME.dec_log.json`` (the DEC phase's
LogReport: loss, label changes and ACC/NMI/ARI at every refresh of P). A run killed midway
resumes from its snapshots when started again with the same --out.
"""

import argparse
import json
import os
import shutil
import sys

from dec_chainer.experiment import _json_default, parse_overrides, results_table
from dec_chainer.experiment import run_experiment
from dec_chainer.presets import PRESETS


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='quick', choices=sorted(PRESETS))
    p.add_argument('--dataset', default='mnist')
    p.add_argument('--clusters', type=int, default=None)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='-1')
    p.add_argument('--out', required=True, help='run directory (snapshots, logs)')
    p.add_argument('--results', default='results', help='where the JSON goes')
    p.add_argument('--name', default=None, help='result file stem')
    p.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                   help='override preset values, e.g. dec_max_iter=2000')
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)
    device = int(args.device) if args.device.lstrip('-').isdigit() else args.device

    _, report = run_experiment(
        args.dataset, args.preset, parse_overrides(args.set), args.clusters, args.seed,
        device, args.out, not args.no_progress,
        argv=['python', 'scripts/run_preset.py'] + sys.argv[1:])
    report.pop('labels')
    name = args.name or '{}-{}-seed{}'.format(args.preset, args.dataset, args.seed)
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, name + '.json'), 'w') as f:
        json.dump(report, f, indent=2, default=_json_default)
    dec_log = os.path.join(args.out, 'dec', 'log')
    if os.path.exists(dec_log):
        shutil.copy(dec_log, os.path.join(args.results, name + '.dec_log.json'))
    print('\n{} (seed {}):'.format(name, args.seed))
    print(results_table(report))
    print('total {:.0f} s'.format(report['seconds']['total']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
