"""Keeps NumPy random states in snapshots, so a resumed CPU run repeats an uninterrupted one."""

import json

import numpy

import chainer
from chainer.training import extension


class RandomStateKeeper(extension.Extension):

    """Serializes the given ``numpy.random.RandomState`` and ``numpy.random.Generator``
    objects (minibatch order, dropout).

    Chainer's snapshots hold the models, optimizers and iterator positions but not these
    generators; without them a resumed run draws different dropout masks and shuffles.
    The global random state is neither saved nor touched: training draws only from the
    streams it is given.
    """

    trigger = (1 << 30, 'iteration')  # nothing to do while training; only serialize matters
    priority = extension.PRIORITY_READER

    def __init__(self, random_states=()):
        self.random_states = list(random_states)

    def __call__(self, trainer):
        pass

    def serialize(self, serializer):
        loading = isinstance(serializer, chainer.serializer.Deserializer)
        for i, rs in enumerate(self.random_states, 1):
            key = 'rs{}'.format(i)
            if isinstance(rs, numpy.random.Generator):
                # its bit generator's state: a dict of (128-bit) integers, kept as JSON text
                text = json.dumps(rs.bit_generator.state, sort_keys=True).encode()
                text = serializer(key + '_state', None if loading else
                                  numpy.frombuffer(text, dtype=numpy.uint8))
                if loading:
                    rs.bit_generator.state = json.loads(numpy.asarray(text).tobytes())
                continue
            _, keys, pos, has_gauss, gauss = rs.get_state()
            keys = numpy.array(keys, dtype=numpy.uint32)
            meta = numpy.array([pos, has_gauss, gauss], dtype=numpy.float64)
            serializer(key + '_keys', keys)
            serializer(key + '_meta', meta)
            if loading:
                rs.set_state(('MT19937', keys, int(meta[0]), int(meta[1]), float(meta[2])))
