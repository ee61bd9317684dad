"""scikit-learn's bundled handwritten digits (1,797 images, 8 x 8, pixel values 0-16)."""

import numpy

from dec_chainer.datasets import _images


def load_digits(scale='unit'):
    """Load scikit-learn's digits.

    Args:
        scale (str): ``'unit'`` (pixels / 16, in [0, 1]), ``'caffe'`` (pixels mapped to the
            0-255 range, then x 0.02) or ``'raw'`` (mapped to 0-255).

    Returns:
        tuple: ``X`` float32 of shape (1797, 64) and ``y`` int64 of shape (1797,).
    """
    from sklearn.datasets import load_digits as sk_load_digits
    bunch = sk_load_digits()
    return (_images.scale_pixels(bunch.data, scale, max_value=16.0),
            bunch.target.astype(numpy.int64))
