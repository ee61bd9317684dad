"""What the benchmark scripts share: the network they time, the timing loops, the GEMM floor
of a training stage, and writing a result (JSON with its provenance, Markdown headed by the
machine). Imported by the ``bench_*`` scripts (their own directory is on ``sys.path``)."""

import os
import sys
import time

import numpy

#: the paper's autoencoder and minibatch, which the training benchmarks time
DIMS = (784, 500, 500, 2000, 10)
BATCH = 256


def seconds_per_call(fn, repeats=None, seconds=None, warmup=0, sync=None):
    """The mean seconds of a call of ``fn``: over ``repeats`` calls, or over the calls that
    fit in ``seconds``, after ``warmup`` untimed ones; ``sync()`` after each (a GPU)."""
    for _ in range(warmup):
        fn()
    start, n = time.perf_counter(), 0
    while True:
        fn()
        if sync:
            sync()
        n += 1
        elapsed = time.perf_counter() - start
        if (repeats is not None and n >= repeats) or (seconds is not None and elapsed >= seconds):
            return elapsed / n


def fastest_call(fn, repeats, sync=None, budget=None):
    """The fastest of ``repeats`` single calls of ``fn`` (seconds), stopping early once
    ``budget`` seconds have passed."""
    times, start = [], time.perf_counter()
    for _ in range(repeats):
        times.append(seconds_per_call(fn, repeats=1, sync=sync))
        if budget and time.perf_counter() - start > budget:
            break
    return min(times)


def stage_sizes(dims=DIMS):
    """The layer sizes of each pretraining stage: the pairs ``(d_k, d_k+1, d_k)``, then the
    whole stack for fine-tuning."""
    return ([(dims[k], dims[k + 1], dims[k]) for k in range(len(dims) - 1)]
            + [tuple(dims) + tuple(reversed(dims[:-1]))])


def gemm_floor(sizes):
    """A step of only the matrix products of one iteration of an autoencoder
    ``sizes[0] -> ... -> sizes[-1]`` (sizes symmetric) on preallocated operands: forward,
    every weight gradient, every input gradient but the first. No implementation of the
    iteration goes below it."""
    rng = numpy.random.RandomState(0)
    Ws = [(rng.randn(o, i) * 0.01).astype(numpy.float32) for i, o in zip(sizes, sizes[1:])]
    hs = [rng.rand(BATCH, m).astype(numpy.float32) for m in sizes]
    outs = [numpy.empty((BATCH, o), numpy.float32) for o in sizes[1:]]
    gWs = [numpy.empty_like(w) for w in Ws]
    gxs = [numpy.empty((BATCH, i), numpy.float32) for i in sizes[:-1]]

    def step():
        for k, W in enumerate(Ws):
            numpy.matmul(hs[k], W.T, out=outs[k])
        for k in reversed(range(len(Ws))):
            numpy.matmul(hs[k + 1].T, hs[k], out=gWs[k])
            if k:
                numpy.matmul(hs[k + 1], Ws[k], out=gxs[k])

    return step


def run_provenance(script, argv=None):
    """The provenance of this run of ``scripts/<script>`` (its command as typed); take it
    before writing anything, so that the outputs do not make the tree look modified."""
    from dec_chainer.provenance import provenance
    return provenance(['python', 'scripts/' + script]
                      + (sys.argv[1:] if argv is None else list(argv)))


def write_result(out, name, data, title, body, prov):
    """``out/<name>.json`` (``data`` and ``prov``) and ``out/<name>.md``: ``# title``, the
    machine line, then ``body`` (Markdown)."""
    from dec_chainer.reporting import machine_line, write_page
    write_page(os.path.join(out, name), dict(data, provenance=prov),
               '# {}\n\n{}\n\n{}'.format(title, machine_line(prov), body))
