"""Data-parallel DEC over MPI with ChainerMN: which process this is and its share of the rows.

Every function takes ``comm``: a ChainerMN communicator, or None for one process (then each
is the identity of the single-process code path: all rows, no communication). Launched by
``mpiexec -n N`` (N > 1), :func:`create_communicator` returns the communicator; rank ``r``
of ``N`` then owns the contiguous rows ``[r n / N, (r + 1) n / N)`` of every set of rows a
phase works on (a true partition: no row is duplicated, so global sums are exact).

What goes over MPI, and where (see ``ARCHITECTURE.md``):

- parameters: broadcast by ChainerMN's multi-node optimizer at the first update, gradients
  all-reduced (averaged) at every update; a loaded stage is broadcast from rank 0;
- the target distribution: each rank's cluster frequencies ``f_j = sum_i q_ij`` are summed
  (:func:`allreduce_sum`), so every rank's rows of ``P`` are those one process computes;
- label changes (the stopping test), losses and metrics: summed or gathered, so every
  rank makes the same decision at the same iteration;
- k-means: the embeddings are gathered at rank 0 (:func:`gather_rows`), the centroids and
  labels broadcast.

Rank 0 alone writes the run directory, logs and progress; each rank keeps its own
snapshots (rank 0 where one process keeps them, rank r > 0 in ``<stage>/rank<r>/``) and
all resume from the newest iteration every rank holds.
An exception on any rank aborts the whole job (ChainerMN's global except hook), so an error
never leaves the other ranks waiting.
"""

import os

import numpy
from dec_chainer.errors import UserError

#: Environment variables an MPI launcher sets, in each process it starts, to the number of
#: processes (Open MPI's mpiexec, PMIx launchers such as srun, MPICH/Hydra).
SIZE_VARIABLES = ('OMPI_COMM_WORLD_SIZE', 'PMIX_SIZE', 'PMI_SIZE')

#: ``--communicator`` choices (ChainerMN's): ``auto`` is ``naive`` on the CPU and
#: ``pure_nccl`` on GPUs; ``flat`` and ``non_cuda_aware`` are GPU communicators over MPI.
COMMUNICATORS = ('auto', 'naive', 'flat', 'non_cuda_aware', 'pure_nccl')


def launched_size():
    """The number of processes the MPI launcher started (1 when not under a launcher)."""
    for name in SIZE_VARIABLES:
        value = os.environ.get(name, '')
        if value.isdigit():
            return int(value)
    return 1


def create_communicator(name='auto', gpu=False):
    """ChainerMN's communicator ``name`` for this job, or None when it runs as one process.

    With more than one process, an uncaught exception on any rank aborts every rank
    (``MPI_Abort``) instead of leaving them blocked in a collective.
    """
    if name not in COMMUNICATORS:
        raise UserError('communicator must be one of {}; got {!r}'.format(
            ', '.join(COMMUNICATORS), name))
    if launched_size() == 1:
        return None
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise UserError('started by an MPI launcher with {} processes but mpi4py is not '
                           'installed: pip install .[mpi] (or bash scripts/setup_env.sh '
                           '--mpi)'.format(launched_size())) from None
    from dec_chainer import _compat
    _compat.patch_chainermn()
    import chainermn
    import chainermn.global_except_hook
    chainermn.global_except_hook.add_hook()
    if name == 'auto':
        name = 'pure_nccl' if gpu else 'naive'
    if name != 'naive' and not gpu:
        raise UserError('communicator {!r} needs GPUs (--device 0); on CPUs use naive'.format(
            name))
    comm = chainermn.create_communicator(name)
    return comm if comm.size > 1 else None


def rank(comm):
    return 0 if comm is None else comm.rank


def size(comm):
    return 1 if comm is None else comm.size


def is_root(comm):
    return comm is None or comm.rank == 0


def shard(n, comm):
    """This rank's rows of ``n``: ``slice(r n // N, (r + 1) n // N)``."""
    r, N = rank(comm), size(comm)
    return slice(r * n // N, (r + 1) * n // N)


def local_batchsize(batchsize, comm, what='batchsize'):
    """Each rank's share of a global minibatch of ``batchsize`` rows (it must divide)."""
    N = size(comm)
    if batchsize % N:
        raise UserError('{} {} is not divisible by the {} processes: each rank takes an '
                         'equal share of the global minibatch (use a multiple of {})'.format(
                             what, batchsize, N, N))
    return batchsize // N


def rank_seed(seed, comm):
    """The seed of this rank's stream derived from a stage's ``seed`` (``seed`` itself for
    one process: its runs draw what they always drew)."""
    if size(comm) == 1:
        return seed
    return int(numpy.random.SeedSequence([seed, rank(comm)]).generate_state(1)[0])


def allreduce_sum(comm, x):
    """The element-wise sum of ``x`` (a NumPy or CuPy array) over all ranks."""
    if comm is None:
        return x
    return comm.allreduce(x)


def bcast(comm, obj):
    """Rank 0's ``obj`` on every rank (pickled; for small objects), e.g. a decision every
    rank must take the same way."""
    if comm is None:
        return obj
    return comm.bcast_obj((obj,) if comm.rank == 0 else None)[0]  # (None is refused)


def allgather(comm, obj):
    """Every rank's ``obj`` (pickled), in rank order, on every rank."""
    if comm is None:
        return [obj]
    return comm.mpi_comm.allgather(obj)


#: Largest MPI message of :func:`gather_rows`, in bytes (a chunk of whole rows; MPI counts
#: are 32-bit integers).
GATHER_CHUNK_BYTES = 1 << 26
_GATHER_TAG = 7301


def _row_chunks(a):
    rows = max(1, GATHER_CHUNK_BYTES // max(1, a[:1].nbytes))
    return [a[start:start + rows] for start in range(0, len(a), rows)]


def gather_rows(comm, x, out=None):
    """The row-wise concatenation of every rank's NumPy array ``x`` (in rank order) at rank
    0; None on the other ranks.

    The rows travel as raw buffers, a chunk at a time, straight into their place in the
    result (no pickled copies): rank 0 needs no memory beyond the result, which is ``out``
    when given (rank 0: an array of every rank's rows, e.g. a memory-mapped file) or a new
    array. One process: ``x`` (copied into ``out`` when given).
    """
    if comm is None:
        if out is None:
            return x
        out[...] = x
        return out
    x = numpy.ascontiguousarray(x)
    counts = comm.mpi_comm.gather(len(x), root=0)
    if comm.rank != 0:
        for part in _row_chunks(x):
            comm.mpi_comm.Send(part, dest=0, tag=_GATHER_TAG)
        return None
    shape = (sum(counts),) + x.shape[1:]
    if out is None:
        out = numpy.empty(shape, x.dtype)
    elif out.shape != shape or out.dtype != x.dtype or not out.flags.c_contiguous:
        raise UserError('out must be a C-contiguous {} array of shape {}; got {} {}'.format(
            x.dtype, shape, out.dtype, out.shape))
    out[:counts[0]] = x
    start = counts[0]
    for rank, n in enumerate(counts[1:], 1):
        for part in _row_chunks(out[start:start + n]):
            comm.mpi_comm.Recv(part, source=rank, tag=_GATHER_TAG)
        start += n
    return out


def bcast_params(comm, link):
    """Rank 0's parameters of ``link`` on every rank."""
    if comm is not None:
        comm.bcast_data(link)
