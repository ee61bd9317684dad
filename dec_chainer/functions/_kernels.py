"""Every CUDA kernel of the package: its CuPy definition, in one place.

The functions run them through :func:`elementwise` and :func:`reduction` (Chainer's cached
``cuda.elementwise``/``cuda.reduce``); the tests compile each definition with ``nvcc`` for
the GPUs the project targets, and run its operation on the CPU, from these same strings.

``ELEMENTWISE[name] = (in_params, out_params, operation)`` and ``REDUCTION[name] = dict(
in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, reduce_type)``, in
CuPy's syntax (``ElementwiseKernel``, ``ReductionKernel``).
"""

from chainer.backends import cuda

# One thread per row i, looping over the K centroids: the distances, the kernel, the row
# log-sum-exp and q in a single pass over the GEMM output (K is small in clustering). The
# arithmetic is double: far points' squared distances overflow float32 (|z| ~ 1e19), and
# the double kernel keeps their q finite at no cost to speed here.
_SOFT_ASSIGNMENT_FWD = '''
const int base = i * K;
double m = 0;
for (int j = 0; j < K; ++j) {
    double d = zz + mm[j] - 2 * (double)zm[base + j];
    if (d < 0) d = 0;
    double lk, hh;
    if (squared) {
        lk = -(alpha + 1) / 2 * log1p(d / alpha);
        hh = 1 / (1 + d / alpha);
    } else {
        double r = sqrt(d);
        double fl = sqrt(eps * (zz + mm[j]));
        if (fl < eps) fl = eps;
        lk = -(alpha + 1) / 2 * log1p(r / alpha);
        hh = 1 / ((r > fl ? r : fl) * (alpha + r));
    }
    logq[base + j] = lk;
    h[base + j] = hh;
    if (j == 0 || lk > m) m = lk;
}
double s = 0;
for (int j = 0; j < K; ++j) s += exp((double)logq[base + j] - m);
const double lse = m + log(s);
for (int j = 0; j < K; ++j) {
    const double v = (double)logq[base + j] - lse;
    logq[base + j] = v;
    q[base + j] = exp(v);
}
'''

# One thread per row: w_j = q_ij^2 / f_j, then the row is normalised.
_TARGET_FWD = '''
const int base = i * K;
T total = 0;
for (int j = 0; j < K; ++j) {
    const T w = q[base + j] * q[base + j] / f[j];
    p[base + j] = w;
    total += w;
}
for (int j = 0; j < K; ++j) p[base + j] /= total;
'''

ELEMENTWISE = {
    'dec_soft_assignment_fwd': (
        'float64 zz, raw T zm, raw float64 mm, int32 K, float64 alpha, float64 eps, '
        'bool squared', 'raw T logq, raw T q, raw T h', _SOFT_ASSIGNMENT_FWD),
    # the soft assignment's backward coefficient: dL/d log k_ij, times h_ij and c
    'dec_soft_assignment_bwd': (
        'T q, T gq, T t, T h, T coef', 'T A', 'A = -coef * h * q * (gq - t)'),
    # the KL loss's backward coefficient, q recomputed from log q
    'dec_kl_bwd': (
        'T p, T logq, T h, T s, T gy, T coef', 'T A',
        'A = coef * gy * h * (p - s * exp(logq))'),
    'dec_target_distribution_fwd': (
        'raw T q, raw T f, int32 K', 'raw T p', _TARGET_FWD),
}

REDUCTION = {
    # sum_ij p_ij log(p_ij / q_ij), 0 log 0 = 0, summed in float64 as on the CPU
    'dec_kl_fwd': dict(
        in_params='T p, T logq', out_params='float64 kl',
        map_expr='p > 0 ? (double)p * (log((double)p) - (double)logq) : 0.0',
        reduce_expr='a + b', post_map_expr='kl = a', identity='0', reduce_type='float64'),
}


def elementwise(name):
    """The elementwise kernel ``name`` of :data:`ELEMENTWISE` (CuPy, compiled once)."""
    in_params, out_params, operation = ELEMENTWISE[name]
    return cuda.elementwise(in_params, out_params, operation, name)


def reduction(name):
    """The reduction kernel ``name`` of :data:`REDUCTION` (CuPy, compiled once)."""
    spec = dict(REDUCTION[name])
    reduce_type = spec.pop('reduce_type')
    return cuda.reduce(spec['in_params'], spec['out_params'], spec['map_expr'],
                       spec['reduce_expr'], spec['post_map_expr'], spec['identity'], name,
                       reduce_type=reduce_type)
