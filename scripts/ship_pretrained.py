"""Ship a run's pretrained autoencoder: its fine-tuned weights, identity and provenance in a
directory that ``dec-chainer cluster --pretrained DIR`` (and ``fit_dec(pretrained=DIR)``)
reuse instead of pretraining, refused there if a file's digest, the settings or the data
differ.

    .venv/bin/python scripts/ship_pretrained.py --run runs/paper-mnist-s0 \
        --out results/pretrained/paper-mnist-seed0

DEST gets ``run.json`` (settings, seed, data digests), ``pretrain/finetune.npz`` (float32
weights), each stage's ``pretrain/*.json`` (iterations, loss, seconds), ``provenance.json``
(the run's command, commit, machine, BLAS kernels, versions, wall time, AE+k-means result)
and ``digests.json`` (BLAKE2b of the weights and of ``run.json``).
"""

import argparse
import glob
import os
import sys

from dec_chainer import _files
from dec_chainer.runs import DIGESTS_FILE, RUN_FILE, file_digest


def ship(run, dest):
    identity = _files.read_json(os.path.join(run, RUN_FILE))
    if not identity['config'].get('finetune_iters'):
        raise ValueError('{}: no fine-tuning stage to ship'.format(run))
    weights = os.path.join(run, 'pretrain', 'finetune.npz')
    if not os.path.exists(weights):
        raise FileNotFoundError('{} has not finished pretraining (no {})'.format(run, weights))
    os.makedirs(os.path.join(dest, 'pretrain'), exist_ok=True)
    for path in [os.path.join(run, RUN_FILE), weights] + sorted(
            glob.glob(os.path.join(run, 'pretrain', '*.json'))):
        _files.copy(path, os.path.join(dest, os.path.relpath(path, run)))
    report = _files.read_json(os.path.join(run, 'metrics.json')) \
        if os.path.exists(os.path.join(run, 'metrics.json')) else {}
    _files.write_json(os.path.join(dest, 'provenance.json'), {
        'source_run': os.path.abspath(run),
        **{k: report.get(k) for k in ('provenance', 'machine', 'blas', 'versions', 'seed',
                                      'preset', 'dataset', 'seconds', 'pretrain')},
        'ae_kmeans': report.get('metrics', {}).get('ae_kmeans')})
    _files.write_json(os.path.join(dest, DIGESTS_FILE), {
        name: file_digest(os.path.join(dest, name))
        for name in (RUN_FILE, os.path.join('pretrain', 'finetune.npz'))}, sort_keys=True)
    return dest


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--run', required=True, help='a run directory that finished pretraining')
    p.add_argument('--out', required=True, help='the directory to ship')
    args = p.parse_args(argv)
    try:
        ship(args.run, args.out)
    except (ValueError, OSError) as e:
        print('ship_pretrained: error: {}'.format(e), file=sys.stderr)
        return 2
    size = os.path.getsize(os.path.join(args.out, 'pretrain', 'finetune.npz'))
    print('{}: {:.1f} MB of weights'.format(args.out, size / 2 ** 20))
    return 0


if __name__ == '__main__':
    sys.exit(main())
