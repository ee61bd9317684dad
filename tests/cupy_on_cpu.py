"""CuPy's ``ElementwiseKernel`` and ``ReductionKernel`` run on the CPU: each kernel's
operation compiled as C++ (the system's ``g++``) and called on NumPy arrays, with CuPy's
semantics for what the package uses. Test code only; the package keeps using CuPy.

- Parameters: ``raw`` ones are whole arrays the operation indexes itself; the others are
  broadcast together and read, or bound by reference for outputs, at element ``i`` of the
  broadcast shape; scalars (Python or 0-d NumPy) are passed by value (``size=`` gives
  ``i``'s range when no array parameter is elementwise). Missing outputs are allocated in
  the broadcast shape.
- Types: ``T`` is one dtype per call, taken from the arrays passed as ``T`` (arrays of two
  dtypes for one ``T`` are a TypeError, as in CuPy); scalars passed as ``T`` take it;
  parameters with a named type (``float64``, ``int32``, ``bool``) are cast to it.
- Reductions (over all elements): ``map_expr`` per element, combined in ``reduce_type``
  with ``reduce_expr`` (``a``, ``b``) from ``identity``, then ``post_map_expr`` writes
  the 0-d output.

:func:`patched` puts these in place of ``chainer.backends.cuda.elementwise``/``reduce`` in
the package's function modules, with ``cuda.cupy`` and the array module a NumPy stand-in,
so the GPU branches (``log_q_gpu``, ``forward_gpu``/``backward_gpu``, the P kernel) run here.
"""

import contextlib
import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import types

import numpy

GXX = shutil.which('g++')
CTYPES = {'float32': 'float', 'float64': 'double', 'int32': 'int', 'bool': 'bool'}
_BUILD = tempfile.mkdtemp(prefix='cupy_on_cpu_')
_LIBS = {}


def parse_params(text):
    """CuPy's parameter list -> [(raw, type, name)]."""
    out = []
    for item in text.split(','):
        words = item.split()
        out.append((words[0] == 'raw',) + tuple(words[-2:]))
    return out


def _compile(source, name):
    key = hashlib.sha1(source.encode()).hexdigest()[:16]
    if key not in _LIBS:
        cpp = os.path.join(_BUILD, '{}_{}.cpp'.format(name, key))
        lib = cpp[:-4] + '.so'
        with open(cpp, 'w') as f:
            f.write(source)
        r = subprocess.run([GXX, '-O1', '-shared', '-fPIC', '-o', lib, cpp],
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError('g++ failed on kernel {}:\n{}'.format(name, r.stderr))
        _LIBS[key] = ctypes.CDLL(lib)
    return getattr(_LIBS[key], name)


_PRELUDE = '#include <cmath>\n#include <cstdint>\nusing namespace std;\n'


def _bind_T(params, args):
    """The dtype ``T`` stands for in this call."""
    dtypes = {numpy.asarray(a).dtype for (raw, t, _), a in zip(params, args)
              if t == 'T' and isinstance(a, numpy.ndarray) and a.ndim > 0}
    if len(dtypes) > 1:
        raise TypeError('T bound to several dtypes: {}'.format(sorted(map(str, dtypes))))
    if not dtypes:
        dtypes = {numpy.asarray(a).dtype for (raw, t, _), a in zip(params, args)
                  if t == 'T' and a is not None}
    return dtypes.pop()


class ElementwiseKernel:

    def __init__(self, in_params, out_params, operation, name):
        self.ins, self.outs = parse_params(in_params), parse_params(out_params)
        self.operation, self.name = operation, name

    def __call__(self, *args, size=None):
        params = self.ins + self.outs
        args = list(args) + [None] * (len(params) - len(args))
        T = _bind_T(params, args)

        def dtype_of(t):
            return T if t == 'T' else numpy.dtype(t)

        shape = numpy.broadcast_shapes(*[numpy.shape(a) for (raw, _, _), a in
                                         zip(params, args) if not raw and a is not None])
        n = int(numpy.prod(shape)) if size is None else int(size)
        arrays, c_args, body = [], [], []
        for k, ((raw, t, v), a) in enumerate(zip(params, args)):
            out = k >= len(self.ins)
            dt = dtype_of(t)
            if a is None:
                a = numpy.empty(shape, dt)
                args[k] = a
            if raw:
                if a.dtype != dt:
                    raise TypeError('{}: raw {} {} got {}'.format(self.name, t, v, a.dtype))
                buf = a
            elif out:
                buf = numpy.empty(shape, dt)
            else:
                buf = numpy.ascontiguousarray(numpy.broadcast_to(
                    numpy.asarray(a).astype(dt, copy=False), shape))
            if raw and not buf.flags.c_contiguous:
                raise ValueError('{}: raw {} must be C-contiguous'.format(self.name, v))
            arrays.append((k, a, buf, raw, out))
            c = CTYPES[dt.name]
            c_args.append('{}{}* _p_{}'.format('' if out or raw else 'const ', c, v))
            if raw:
                body.insert(0, '{0}{1}* {2} = _p_{2};'.format('' if out else 'const ', c, v))
            elif out:
                body.append('{0} &{1} = _p_{1}[i];'.format(c, v))
            else:  # a scalar is passed by value (CuPy), not indexed
                body.append('const {0} {1} = _p_{1}[{2}];'.format(
                    c, v, '0' if numpy.ndim(a) == 0 else 'i'))
        source = _PRELUDE + 'extern "C" void {name}(long _n, {args}) {{\n  typedef {T} T;\n' \
            '  for (long i = 0; i < _n; ++i) {{\n    {body}\n    {op};\n  }}\n}}\n'.format(
                name=self.name, args=', '.join(c_args), T=CTYPES[T.name],
                body='\n    '.join(body), op=self.operation)
        fn = _compile(source, self.name)
        fn(ctypes.c_long(n), *[ctypes.c_void_p(buf.ctypes.data) for _, _, buf, _, _ in arrays])
        results = []
        for k, a, buf, raw, out in arrays:
            if out:
                if not raw:
                    a[...] = buf.reshape(numpy.shape(a))
                results.append(a)
        return results[0] if len(results) == 1 else tuple(results)


class ReductionKernel:

    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr,
                 identity, name, reduce_type=None):
        self.ins, (self.out,) = parse_params(in_params), parse_params(out_params)
        self.map_expr, self.reduce_expr, self.post_map_expr = map_expr, reduce_expr, \
            post_map_expr
        self.identity, self.name, self.reduce_type = identity, name, reduce_type

    def __call__(self, *args):
        T = _bind_T(self.ins, args)
        shape = numpy.broadcast_shapes(*[numpy.shape(a) for a in args])
        bufs, c_args, loads = [], [], []
        for (raw, t, v), a in zip(self.ins, args):
            dt = T if t == 'T' else numpy.dtype(t)
            bufs.append(numpy.ascontiguousarray(numpy.broadcast_to(
                numpy.asarray(a).astype(dt, copy=False), shape)))
            c_args.append('const {}* _p_{}'.format(CTYPES[dt.name], v))
            loads.append('const {0} {1} = _p_{1}[i];'.format(CTYPES[dt.name], v))
        _, t_out, v_out = self.out
        out_dt = T if t_out == 'T' else numpy.dtype(t_out)
        R = CTYPES[self.reduce_type] if self.reduce_type else CTYPES[T.name]
        source = _PRELUDE + '''extern "C" void {name}(long _n, {args}, {out_c}* _p_{out}) {{
  typedef {T} T;
  typedef {R} _type_reduce;
  _type_reduce _s = _type_reduce({identity});
  for (long i = 0; i < _n; ++i) {{
    {loads}
    const _type_reduce a = _s, b = ({map_expr});
    _s = ({reduce_expr});
  }}
  const _type_reduce a = _s;
  {out_c} &{out} = *_p_{out};
  {post_map_expr};
}}
'''.format(name=self.name, args=', '.join(c_args), out_c=CTYPES[out_dt.name], out=v_out,
           T=CTYPES[T.name], R=R, identity=self.identity, loads='\n    '.join(loads),
           map_expr=self.map_expr, reduce_expr=self.reduce_expr,
           post_map_expr=self.post_map_expr)
        fn = _compile(source, self.name)
        result = numpy.zeros((), out_dt)
        fn(ctypes.c_long(int(numpy.prod(shape))),
           *[ctypes.c_void_p(b.ctypes.data) for b in bufs],
           ctypes.c_void_p(result.ctypes.data))
        return result


#: NumPy standing in for CuPy: the same functions, but not ``numpy`` itself, so code that
#: branches on ``xp is numpy`` takes its GPU branch.
fake_cupy = types.ModuleType('fake_cupy')
fake_cupy.__dict__.update({k: v for k, v in vars(numpy).items() if not k.startswith('__')})


@contextlib.contextmanager
def patched(monkeypatch):
    """The package's function modules with their CUDA calls running here."""
    import sys
    from chainer.backends import cuda
    td_module = sys.modules['dec_chainer.functions.target_distribution']  # (the name is
    # also the function's, which the package re-exports)

    def elementwise(in_params, out_params, operation, name, **kwargs):
        return ElementwiseKernel(in_params, out_params, operation, name)

    def reduce(in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name,
               **kwargs):
        return ReductionKernel(in_params, out_params, map_expr, reduce_expr, post_map_expr,
                               identity, name, **kwargs)

    monkeypatch.setattr(cuda, 'elementwise', elementwise)
    monkeypatch.setattr(cuda, 'reduce', reduce)
    monkeypatch.setattr(cuda, 'cupy', fake_cupy, raising=False)
    monkeypatch.setattr(td_module, 'backend',
                        types.SimpleNamespace(get_array_module=lambda *a: fake_cupy))
    yield
