"""The pieces of data-parallel DEC that need no MPI: how rows and batches are shared out,
and that one process (no communicator) is the identity everywhere."""

import numpy
import pytest

from dec_chainer import distributed


class FakeComm:
    """The rank and size of a communicator, for the functions that only read them."""

    def __init__(self, rank, size):
        self.rank, self.size = rank, size


@pytest.mark.parametrize('n', [1, 7, 1797, 60000])
@pytest.mark.parametrize('size', [1, 2, 3, 4, 5])
def test_shards_are_a_partition_of_the_rows(n, size):
    """Every row belongs to exactly one rank, in order, shares differing by one at most."""
    parts = [distributed.shard(n, FakeComm(r, size)) for r in range(size)]
    rows = numpy.concatenate([numpy.arange(n)[s] for s in parts])
    numpy.testing.assert_array_equal(rows, numpy.arange(n))
    lengths = [s.stop - s.start for s in parts]
    assert max(lengths) - min(lengths) <= 1


def test_one_process_is_the_identity():
    x = numpy.arange(6.0)
    assert distributed.shard(10, None) == slice(0, 10)
    assert distributed.allreduce_sum(None, x) is x
    assert distributed.gather_rows(None, x) is x
    assert distributed.bcast(None, {'a': 1}) == {'a': 1}
    assert distributed.allgather(None, 3) == [3]
    assert distributed.rank_seed(12345, None) == 12345
    assert distributed.is_root(None) and distributed.size(None) == 1
    assert distributed.local_batchsize(256, None) == 256


def test_each_rank_gets_its_own_stream_and_an_equal_share_of_a_batch():
    seeds = {distributed.rank_seed(7, FakeComm(r, 4)) for r in range(4)}
    assert len(seeds) == 4 and 7 not in seeds
    assert distributed.local_batchsize(256, FakeComm(0, 4)) == 64
    with pytest.raises(ValueError, match='batchsize 256 is not divisible by the 3 processes'):
        distributed.local_batchsize(256, FakeComm(0, 3))


def test_without_a_launcher_there_is_no_communicator(monkeypatch):
    for name in distributed.SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert distributed.launched_size() == 1
    assert distributed.create_communicator() is None
    monkeypatch.setenv('OMPI_COMM_WORLD_SIZE', '4')
    assert distributed.launched_size() == 4
    with pytest.raises(ValueError, match='communicator must be one of'):
        distributed.create_communicator('ring')
