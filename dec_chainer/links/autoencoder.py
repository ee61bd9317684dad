"""The stacked denoising autoencoder: one ``Chain`` per encoder/decoder pair, a ``ChainList``."""

import math

import numpy

import chainer
import chainer.functions as F
import chainer.links as L
from chainer import initializers

#: Where dropout goes in greedy layer-wise pretraining: ``'paper'`` (the reference Caffe
#: code: not on the raw input; on the inputs of pairs 2.. and on the codes of all pairs but
#: the last), ``'article'`` (the original Chainer repository: on every pair's input, raw
#: pixels included, and on every code) or ``'none'``.
DROPOUT_PLACEMENTS = ('paper', 'article', 'none')
#: Weight initialisations: ``'normal'`` N(0, init_scale^2) (the paper, scale 0.01);
#: ``'uniform'`` U(-sqrt(1/fan_in), sqrt(1/fan_in)) (DEC-keras; the quick preset).
INITS = ('normal', 'uniform')


def make_initializer(init='normal', init_scale=0.01, rng=None):
    """The weight initializer ``init``, drawing from ``rng`` (None: Chainer's default, the
    global NumPy/CuPy random state)."""
    kw = {} if rng is None else {'rng': rng}
    if init == 'normal':
        return initializers.Normal(scale=init_scale, **kw)
    if init == 'uniform':
        # LeCunUniform(s) draws from U(-s sqrt(3 / fan_in), +s sqrt(3 / fan_in))
        return initializers.LeCunUniform(scale=1.0 / math.sqrt(3.0), **kw)
    raise ValueError('init must be one of {}; got {!r}'.format(INITS, init))


#: Resolution of CPU dropout masks: a unit is dropped when a uniform 16-bit integer falls
#: below ``round(ratio * 2**16)`` (ratio 0.2: 0.199997): cheaper to draw than NumPy's
#: float64 ``rand`` (what ``F.dropout`` draws), and a 256 x 2000 code of layer-wise
#: pretraining needs half a million draws per iteration. From a ``numpy.random.Generator``
#: (the pipeline's dropout streams, PCG64) each 64-bit output gives four of them.
MASK_BITS = 16


def dropout_mask(rng, shape, dtype, ratio):
    """``F.dropout``'s ``mask`` (0 or ``1 / (1 - ratio)``) drawn from ``rng``.

    ``rng``: a ``numpy.random.Generator`` (its bit generator's raw 64-bit outputs, read as
    16-bit integers, see :data:`MASK_BITS`), a ``numpy.random.RandomState`` (16-bit
    integers from ``randint``) or a ``cupy.random.RandomState`` (float32 uniforms on the
    GPU, as ``F.dropout`` draws).
    """
    dtype = numpy.dtype(dtype)
    scale = dtype.type(1.0 / (1.0 - ratio))
    threshold = numpy.uint16(round(ratio * 2 ** MASK_BITS))
    if isinstance(rng, numpy.random.Generator):
        n = int(numpy.prod(shape))
        words = rng.bit_generator.random_raw((n + 3) // 4)  # uint64, 4 x 16 bits each
        bits = words.astype('<u8', copy=False).view('<u2')[:n].reshape(shape)
        keep = bits >= threshold
    elif isinstance(rng, numpy.random.RandomState):
        keep = rng.randint(0, 2 ** MASK_BITS, size=shape, dtype=numpy.uint16) >= threshold
    else:
        keep = rng.rand(*shape, dtype=numpy.float32) >= ratio
    return keep * scale


class DenoisingAutoEncoder(chainer.Chain):

    """One encoder/decoder pair ``n_in -> n_out -> n_in``.

    Called on ``x`` it returns the denoising reconstruction used in layer-wise pretraining:
    dropout (in train mode) on the input and/or on the code, as configured. ``encode`` and
    ``decode`` are the clean maps.

    Args:
        n_in (int), n_out (int): sizes of the input and of the code.
        encoder_activation (bool): ReLU after the encoder (False for the embedding layer).
        decoder_activation (bool): ReLU after the decoder (False for the pixel
            reconstruction).
        dropout (float): dropout ratio.
        input_dropout (bool), hidden_dropout (bool): where dropout applies.
        initialW: initializer of both weight matrices (default N(0, 0.01)); biases are 0.
        rng: the random state dropout masks are drawn from (a ``numpy.random.Generator``
            or ``RandomState`` on the CPU, a ``cupy.random.RandomState`` on the GPU; see
            :func:`dropout_mask`); a call may pass its own (``pair(x, rng)``: layer-wise
            pretraining's stream). None: Chainer's ``F.dropout`` and its global random
            state.
    """

    def __init__(self, n_in, n_out, encoder_activation=True, decoder_activation=True,
                 dropout=0.2, input_dropout=True, hidden_dropout=True, initialW=None,
                 rng=None):
        super().__init__()
        if initialW is None:
            initialW = make_initializer()
        self.rng = rng
        self.encoder_activation = encoder_activation
        self.decoder_activation = decoder_activation
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.hidden_dropout = hidden_dropout
        with self.init_scope():
            self.encoder = L.Linear(n_in, n_out, initialW=initialW, initial_bias=0)
            self.decoder = L.Linear(n_out, n_in, initialW=initialW, initial_bias=0)

    def encode(self, x):
        h = self.encoder(x)
        return F.relu(h) if self.encoder_activation else h

    def decode(self, h):
        y = self.decoder(h)
        return F.relu(y) if self.decoder_activation else y

    def _dropout(self, x, rng):
        if rng is None:
            return F.dropout(x, self.dropout)
        if not chainer.config.train:
            return chainer.as_variable(x)
        return F.dropout(x, self.dropout, mask=dropout_mask(rng, x.shape, x.dtype,
                                                             self.dropout))

    def forward(self, x, rng=None):
        """The denoising reconstruction of ``x``, its masks drawn from ``rng`` (default:
        ``self.rng``)."""
        rng = self.rng if rng is None else rng
        if self.input_dropout and self.dropout > 0:
            x = self._dropout(x, rng)
        h = self.encode(x)
        if self.hidden_dropout and self.dropout > 0:
            h = self._dropout(h, rng)
        return self.decode(h)


class StackedDenoisingAutoEncoder(chainer.ChainList):

    """The DEC autoencoder ``d - 500 - 500 - 2000 - 10`` (by default) as a list of pairs.

    ReLU everywhere except the embedding (the last encoder) and the reconstruction of the
    input (the first decoder), which are linear. Calling it reconstructs end to end without
    dropout (fine-tuning); ``self[k]`` is pair ``k`` for greedy layer-wise pretraining.

    Args:
        dims (sequence of int): layer sizes including the input, e.g. (784, 500, 500, 2000,
            10).
        dropout (float): dropout ratio of layer-wise pretraining.
        dropout_placement (str): one of :data:`DROPOUT_PLACEMENTS`.
        init (str): one of :data:`INITS`. init_scale (float): std of ``'normal'``.
        rng (numpy.random.RandomState): the initial weights are drawn from it (None: the
            global random state, Chainer's default). Dropout masks come from each pair's
            own ``rng`` (see :class:`DenoisingAutoEncoder`).
    """

    def __init__(self, dims=(784, 500, 500, 2000, 10), dropout=0.2,
                 dropout_placement='paper', init='normal', init_scale=0.01, rng=None):
        dims = tuple(int(d) for d in dims)
        if len(dims) < 2 or min(dims) < 1:
            raise ValueError('dims needs an input size and at least one layer of positive '
                             'size; got {}'.format(dims))
        if dropout_placement not in DROPOUT_PLACEMENTS:
            raise ValueError('dropout_placement must be one of {}; got {!r}'.format(
                DROPOUT_PLACEMENTS, dropout_placement))
        if not 0 <= dropout < 1:
            raise ValueError('dropout must be in [0, 1); got {}'.format(dropout))
        n = len(dims) - 1
        pairs = []
        for k in range(n):
            if dropout_placement == 'paper':
                input_dropout, hidden_dropout = k > 0, k < n - 1
            else:
                input_dropout = hidden_dropout = dropout_placement == 'article'
            pairs.append(DenoisingAutoEncoder(
                dims[k], dims[k + 1], encoder_activation=k < n - 1,
                decoder_activation=k > 0, dropout=dropout, input_dropout=input_dropout,
                hidden_dropout=hidden_dropout,
                initialW=make_initializer(init, init_scale, rng)))
        super().__init__(*pairs)
        self.dims = dims

    @property
    def embedding_size(self):
        return self.dims[-1]

    def encode(self, x, depth=None):
        """The clean code after the first ``depth`` encoders (all by default)."""
        for pair in list(self)[:depth]:
            x = pair.encode(x)
        return x

    def decode(self, h):
        for pair in reversed(list(self)):
            h = pair.decode(h)
        return h

    def forward(self, x):
        return self.decode(self.encode(x))


#: Reconstruction losses: ``'half_mse'`` (half the element-wise mean squared error, the
#: reference Caffe code), ``'mse'`` (``F.mean_squared_error``: the article, DEC-keras).
AE_LOSSES = ('half_mse', 'mse')


class ReconstructionLoss(chainer.Chain):

    """Wraps an autoencoder (a pair or the stack) into a loss link that reports ``loss``;
    a pair's dropout masks are drawn from ``rng`` (see :class:`DenoisingAutoEncoder`)."""

    def __init__(self, autoencoder, loss='half_mse', rng=None):
        super().__init__()
        if loss not in AE_LOSSES:
            raise ValueError('loss must be one of {}; got {!r}'.format(AE_LOSSES, loss))
        self.loss_type = loss
        self.rng = rng
        with self.init_scope():
            self.autoencoder = autoencoder

    def forward(self, x):
        y = self.autoencoder(x) if self.rng is None else self.autoencoder(x, self.rng)
        loss = F.mean_squared_error(y, x)
        if self.loss_type == 'half_mse':
            loss = loss * 0.5
        chainer.report({'loss': loss}, self)
        return loss
