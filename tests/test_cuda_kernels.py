"""Every CUDA kernel of the package compiles with nvcc, for the GPUs the project targets
(sm_80, sm_90) and both float dtypes, without a GPU (issue 24, first part).

Each definition in ``dec_chainer.functions._kernels`` (the strings the package hands to
CuPy) becomes a ``__global__`` function with the parameter types CuPy gives it: ``T``
bound to the dtype, ``raw`` parameters as arrays indexed by the operation, the others read
(inputs) or bound by reference (outputs) at element ``i``; a reduction maps each element
with ``map_expr``, combines with ``reduce_expr`` in ``reduce_type`` starting from
``identity``, and writes through ``post_map_expr``. A typo or a type error in a kernel body
fails the compile, and the test with it.
"""

import os
import shutil
import subprocess

import pytest

from dec_chainer.functions import _kernels

NVCC = shutil.which('nvcc')
ARCHS = ('sm_80', 'sm_90')
DTYPES = {'float32': 'float', 'float64': 'double'}
CTYPES = {'float32': 'float', 'float64': 'double', 'int32': 'int', 'bool': 'bool'}


def parse_params(text):
    """CuPy's parameter list -> [(raw, type, name)]."""
    params = []
    for item in text.split(','):
        words = item.split()
        raw = words[0] == 'raw'
        params.append((raw,) + tuple(words[-2:]))
    return params


def ctype(t, dtype):
    return DTYPES[dtype] if t == 'T' else CTYPES[t]


def elementwise_source(name, in_params, out_params, operation, dtype):
    args, body = ['const int _n'], []
    for raw, t, v in parse_params(in_params):
        c = ctype(t, dtype)
        args.append('const {} * __restrict__ {}'.format(c, v if raw else '_in_' + v))
        if not raw:
            body.append('const {0} {1} = _in_{1}[i];'.format(c, v))
    for raw, t, v in parse_params(out_params):
        c = ctype(t, dtype)
        args.append('{} * __restrict__ {}'.format(c, v if raw else '_out_' + v))
        if not raw:
            body.append('{0} &{1} = _out_{1}[i];'.format(c, v))
    return '''
extern "C" __global__ void {name}({args}) {{
  typedef {T} T;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < _n; i += blockDim.x * gridDim.x) {{
    {body}
    {operation};
  }}
}}
'''.format(name=name, args=', '.join(args), T=DTYPES[dtype], body='\n    '.join(body),
           operation=operation)


def reduction_source(name, spec, dtype):
    args, loads = ['const int _n'], []
    for raw, t, v in parse_params(spec['in_params']):
        c = ctype(t, dtype)
        args.append('const {} * __restrict__ _in_{}'.format(c, v))
        loads.append('const {0} {1} = _in_{1}[i];'.format(c, v))
    (_, t_out, out), = parse_params(spec['out_params'])
    args.append('{} * __restrict__ _out_{}'.format(ctype(t_out, dtype), out))
    R = CTYPES[spec['reduce_type']]
    return '''
extern "C" __global__ void {name}({args}) {{
  typedef {T} T;
  typedef {R} _type_reduce;
  __shared__ _type_reduce _sdata[256];
  _type_reduce _s = _type_reduce({identity});
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < _n; i += blockDim.x * gridDim.x) {{
    {loads}
    const _type_reduce a = _s, b = ({map_expr});
    _s = ({reduce_expr});
  }}
  _sdata[threadIdx.x] = _s;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {{
    if (threadIdx.x < k) {{
      const _type_reduce a = _sdata[threadIdx.x], b = _sdata[threadIdx.x + k];
      _sdata[threadIdx.x] = ({reduce_expr});
    }}
    __syncthreads();
  }}
  if (threadIdx.x == 0) {{
    const _type_reduce a = _sdata[0];
    {out_t} &{out} = _out_{out}[blockIdx.x];
    {post_map_expr};
  }}
}}
'''.format(name=name, args=', '.join(args), T=DTYPES[dtype], R=R, loads='\n    '.join(loads),
           out_t=ctype(t_out, dtype), out=out, **{k: spec[k] for k in (
               'identity', 'map_expr', 'reduce_expr', 'post_map_expr')})


def module_source(dtype):
    parts = [elementwise_source(name, *spec, dtype)
             for name, spec in _kernels.ELEMENTWISE.items()]
    parts += [reduction_source(name, spec, dtype) for name, spec in _kernels.REDUCTION.items()]
    return '#include <math.h>\n' + ''.join(parts)


def test_every_kernel_is_generated():
    src = module_source('float32')
    for name in list(_kernels.ELEMENTWISE) + list(_kernels.REDUCTION):
        assert 'void {}('.format(name) in src


@pytest.mark.skipif(NVCC is None, reason='no nvcc (CUDA toolkit) on this machine')
@pytest.mark.parametrize('arch', ARCHS)
@pytest.mark.parametrize('dtype', sorted(DTYPES))
def test_every_kernel_compiles(tmp_path, arch, dtype):
    cu = tmp_path / 'kernels.cu'
    cu.write_text(module_source(dtype))
    r = subprocess.run([NVCC, '-arch={}'.format(arch), '--Werror', 'all-warnings', '-c',
                        str(cu), '-o', os.fspath(tmp_path / 'kernels.o')],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
