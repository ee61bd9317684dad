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
import os
import sys

from dec_chainer.errors import UserError
from dec_chainer.runs import ship_pretrained


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--run', required=True, help='a run directory that finished pretraining')
    p.add_argument('--out', required=True, help='the directory to ship')
    args = p.parse_args(argv)
    try:
        ship_pretrained(args.run, args.out)
    except (UserError, OSError) as e:
        print('ship_pretrained: error: {}'.format(e), file=sys.stderr)
        return 2
    size = os.path.getsize(os.path.join(args.out, 'pretrain', 'finetune.npz'))
    print('{}: {:.1f} MB of weights'.format(args.out, size / 2 ** 20))
    return 0


if __name__ == '__main__':
    sys.exit(main())
