import gzip
import struct

import numpy
import pytest

from dec_chainer.datasets import read_idx

from conftest import write_idx


@pytest.mark.parametrize('suffix', ['', '.gz'])
@pytest.mark.parametrize('dtype', [numpy.uint8, numpy.int8, numpy.int16, numpy.int32,
                                   numpy.float32, numpy.float64])
def test_round_trip(tmp_path, suffix, dtype):
    arr = (numpy.arange(2 * 3 * 4) % 100).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / ('a.idx' + suffix)
    write_idx(path, arr)
    out = read_idx(path)
    assert out.dtype == numpy.dtype(dtype)
    numpy.testing.assert_array_equal(out, arr)


def test_reads_the_standard_layout(tmp_path):
    # header written by hand: magic 0x00000803, then big-endian dims
    pixels = numpy.arange(2 * 2 * 3, dtype=numpy.uint8)
    raw = struct.pack('>I', 0x803) + struct.pack('>III', 2, 2, 3) + pixels.tobytes()
    (tmp_path / 'x').write_bytes(raw)
    numpy.testing.assert_array_equal(read_idx(tmp_path / 'x'), pixels.reshape(2, 2, 3))
    labels = struct.pack('>II', 0x801, 3) + bytes([7, 1, 9])
    (tmp_path / 'y.gz').write_bytes(gzip.compress(labels))
    numpy.testing.assert_array_equal(read_idx(tmp_path / 'y.gz'), [7, 1, 9])


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope'):
        read_idx(tmp_path / 'nope')


@pytest.mark.parametrize('raw, match', [
    (b'', 'shorter than the 4-byte magic'),
    (b'\x00\x00', 'shorter than the 4-byte magic'),
    (b'\x12\x34\x08\x01\x00\x00\x00\x01\x05', 'bad magic number 0x12340801'),
    (b'\x00\x00\x07\x01\x00\x00\x00\x01\x05', 'bad magic number'),
    (b'\x00\x00\x08\x00', 'bad magic number'),
    (b'\x00\x00\x08\x03\x00\x00\x00\x02', 'truncated IDX header'),
    (b'\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02', r'truncated IDX file: shape \(3,\) needs 3'),
    (b'\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02', 'trailing bytes'),
])
def test_bad_files(tmp_path, raw, match):
    path = tmp_path / 'bad-idx'
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=match) as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_truncated_gzip(tmp_path):
    data = gzip.compress(struct.pack('>II', 0x801, 100) + bytes(100))
    path = tmp_path / 'labels.gz'
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match='corrupt or truncated gzip') as e:
        read_idx(path)
    assert str(path) in str(e.value)


def test_write_rejects_unsupported(tmp_path):
    with pytest.raises(ValueError, match='cannot store dtype'):
        write_idx(tmp_path / 'c', numpy.zeros(3, dtype=numpy.complex64))
