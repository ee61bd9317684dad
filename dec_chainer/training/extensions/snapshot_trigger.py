"""When to snapshot: every N iterations, and at least every few minutes."""

import time


class SnapshotTrigger:

    """Fires every ``interval`` iterations and whenever ``seconds`` have passed since it
    last fired, so a killed run loses at most that much work however long its iterations
    (short runs included, whose schedules end before the first interval).

    Snapshots hold every random state, so where they fall never changes a run's result.
    The decision of an iteration is made once: :class:`StopOnDivergence` asks first (to
    check the loss before a snapshot is written), the snapshot writer gets the same answer.
    Under MPI (``comm``, a ChainerMN communicator) rank 0's clock decides for every rank,
    so all ranks snapshot the same iterations.
    """

    def __init__(self, interval, seconds=120.0, clock=time.monotonic, comm=None):
        self.interval = int(interval)
        self.seconds = float(seconds)
        self.clock = clock
        self.comm = comm
        self._last = clock()
        self._decided = (None, False)

    def __call__(self, trainer):
        it = trainer.updater.iteration
        if self._decided[0] != it:
            now = self.clock()
            fire = it % self.interval == 0 or now - self._last >= self.seconds
            if self.comm is not None:
                fire = self.comm.mpi_comm.bcast(fire, root=0)
            if fire:
                self._last = now
            self._decided = (it, fire)
        return self._decided[1]
