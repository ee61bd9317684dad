"""What every phase of one run shares: the device, the processes, where per-row arrays live,
the log and the progress bars."""

import dataclasses
import os

import chainer

from dec_chainer import _files, distributed


def _silent(*args):
    pass


@dataclasses.dataclass(frozen=True)
class RunContext:

    """Where and how a run's phases compute: the only place MPI and on-disk storage enter
    the training code beside the optimizer, the all-reduces and the per-row arrays.

    Args:
        device: a Chainer device spec (``-1``/``'@numpy'``: the CPU; ``0``: GPU 0).
        comm: a ChainerMN communicator for data-parallel training (see
            :mod:`dec_chainer.distributed`); None: one process.
        scratch (str): a directory for the per-row arrays (codes, P, labels, minibatch
            orders) as memory-mapped files, for data larger than memory; None: in memory.
        log (callable): where status lines go (rank 0's; the other ranks' are dropped).
        progress (bool): progress bars (rank 0 only).
        command (list of str): the command line a run records (None: ``sys.argv``).
        figures (bool): whether a run that writes its files writes its figures too.
    """

    device: object = -1
    comm: object = None
    scratch: object = None
    log: object = print
    progress: bool = True
    command: object = None
    figures: bool = True

    def __post_init__(self):
        object.__setattr__(self, 'device', chainer.get_device(self.device))
        if not self.root:
            object.__setattr__(self, 'log', _silent)
            object.__setattr__(self, 'progress', False)

    @property
    def root(self):
        """Whether this process writes files and logs (rank 0, or the only process)."""
        return distributed.is_root(self.comm)

    @property
    def processes(self):
        """How many processes train together (1 without a communicator)."""
        return distributed.size(self.comm)

    # what the phases share across processes (each the identity for one process; see
    # dec_chainer.distributed)

    def bcast(self, value):
        return distributed.bcast(self.comm, value)

    def bcast_params(self, link):
        distributed.bcast_params(self.comm, link)

    def allreduce_sum(self, x):
        return distributed.allreduce_sum(self.comm, x)

    def local_batchsize(self, batchsize, what='batchsize'):
        return distributed.local_batchsize(batchsize, self.comm, what)

    def random_state(self, seed, stage, generator=False):
        """This process's random stream of ``stage`` on the device (see
        :func:`~dec_chainer.training._common.stage_random_state`)."""
        from dec_chainer.training._common import stage_random_state
        return stage_random_state(seed, stage, self.device, self.comm, generator)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    @property
    def on_disk(self):
        """Whether per-row arrays are memory-mapped files (data larger than memory)."""
        return self.scratch is not None

    def new_array(self, name, shape, dtype):
        """A zeroed per-row array: in memory, or the scratch file ``name``."""
        return _files.new_array(self.scratch, name, shape, dtype)

    def exists(self, path):
        """Whether rank 0 sees ``path`` (every rank gets rank 0's answer)."""
        return self.bcast(self.root and os.path.exists(path))

    def load_or_compute(self, path, load, compute):
        """``load()`` when the result file ``path`` of a phase exists, else ``compute()``:
        a finished phase is never computed again."""
        return load() if self.exists(path) else compute()

