"""Reader of the IDX format of MNIST and Fashion-MNIST (plain or gzip)."""

import gzip
import os
import struct
import zlib

import numpy
from dec_chainer.errors import MissingFileError, UserError

# third byte of the magic number -> big-endian element type
_IDX_TYPES = {
    0x08: numpy.dtype('>u1'),
    0x09: numpy.dtype('>i1'),
    0x0B: numpy.dtype('>i2'),
    0x0C: numpy.dtype('>i4'),
    0x0D: numpy.dtype('>f4'),
    0x0E: numpy.dtype('>f8'),
}
_GZIP_MAGIC = b'\x1f\x8b'


def _read_bytes(path):
    if not os.path.isfile(path):
        raise MissingFileError('IDX file not found: {}'.format(path))
    with open(path, 'rb') as f:
        data = f.read()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise UserError('{}: corrupt or truncated gzip data ({})'.format(path, e)) from None
    return data


def read_idx(path):
    """Read an IDX file (optionally gzip-compressed) into a native-endian NumPy array.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: bad magic number, unknown element type, truncated header or data, or
            trailing bytes; the message names the file.
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise UserError('{}: not an IDX file: {} bytes, shorter than the 4-byte magic '
                         'number'.format(path, len(data)))
    zero, type_code, ndim = struct.unpack('>HBB', data[:4])
    if zero != 0 or type_code not in _IDX_TYPES or ndim == 0:
        raise UserError('{}: not an IDX file: bad magic number 0x{}'.format(
            path, data[:4].hex()))
    header = 4 + 4 * ndim
    if len(data) < header:
        raise UserError('{}: truncated IDX header: {} dimensions need {} bytes, file has {}'
                         .format(path, ndim, header, len(data)))
    shape = struct.unpack('>' + 'I' * ndim, data[4:header])
    dtype = _IDX_TYPES[type_code]
    expected = int(numpy.prod(shape, dtype=numpy.int64)) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        problem = 'truncated' if found < expected else 'trailing bytes in'
        raise UserError('{}: {} IDX file: shape {} needs {} data bytes, found {}'.format(
            path, problem, shape, expected, found))
    arr = numpy.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder('='))
