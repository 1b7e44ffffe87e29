"""Fused elementwise kernels for the CuPy backend: one kernel where the NumPy reference makes a pass
per operation.

A training step of the networks here is, on a GPU, bound by kernel launches rather than by its
arithmetic: every NumPy-style operation is a kernel of its own. The kernels below compute the same
formulas, in the same order, as their NumPy references, which stay the definitions:

* an activation with its first and second derivatives, one kernel per activation and order
  (:mod:`npscore.nn.activations`; the rules there run these on CuPy);
* Adam's update of one leaf together with the moving average of the parameters after it
  (:class:`npscore.optim.Adam`, :func:`npscore.optim.ema_update`);
* the per-pixel mixture of the MNIST base, its K components' terms and their softmax, one kernel
  each (:meth:`npscore.mnist.base.FactorizedMixture.components` and ``.mix``).

Each kernel is CUDA C over one element, written in the arrays' type ``T``. ``tests/test_fused.py``
compiles the same bodies with a C++ compiler on the CPU and compares them with the NumPy
references, and on a GPU compares the CuPy kernels themselves. ``NPSCORE_FUSED=0`` makes CuPy run
the NumPy references instead. (The GPU's compiler may contract ``a * b + c`` into one fused
multiply-add, so the kernels agree with the references to rounding, not bit for bit.)
"""
from . import backend

# e = exp(-|z|) and sigma(z) = (1 or e) / (1 + e), as in activations._logistic_numerator
_LOGISTIC = "const T e = exp(-fabs(z)); const T s = (z >= T(0) ? T(1) : e) / (T(1) + e);"

#: name -> (locals, (a, a', a'')): CUDA C in ``z`` for each activation of :mod:`npscore.nn.activations`
ACTIVATIONS = {
    # a = log(1 + e) + max(z, 0),  a' = sigma,  a'' = (1 - sigma) sigma
    "softplus": (_LOGISTIC, ("log(T(1) + e) + (z > T(0) ? z : T(0))", "s", "(T(1) - s) * s")),
    # a = z sigma,  a' = z sigma' + sigma,  a'' = ((1 - 2 sigma) z + 2) sigma',  sigma' = (1 - sigma) sigma
    "swish": (_LOGISTIC + " const T ds = (T(1) - s) * s;",
              ("z * s", "z * ds + s", "((s * T(-2) + T(1)) * z + T(2)) * ds")),
    # e = exp(-2|z|):  a = sign(z) (1 - e) / (1 + e),  a' = 4 e / (1 + e)^2,  a'' = -2 a a'
    "tanh": ("const T e = exp(T(-2) * fabs(z)); const T t = T((z > T(0)) - (z < T(0))) * (T(1) - e) / (T(1) + e);"
             " const T d = T(4) * e / ((T(1) + e) * (T(1) + e));",
             ("t", "d", "T(-2) * t * d")),
    # e = exp(min(z, 0)):  a = (e - 1) + max(z, 0),  a' = e,  a'' = e - [z > 0]
    # (z > 0 ? 0 : z) rather than a minimum, so that a NaN stays one
    "elu": ("const T e = exp(z > T(0) ? T(0) : z);",
            ("(e - T(1)) + (z > T(0) ? z : T(0))", "e", "e - T(z > T(0))")),
}

#: Adam's update of a leaf (m, v, theta), then, in the kernel with the average, the average of theta:
#: m <- b1 m + (1 - b1) g,  v <- b2 v + (1 - b2) g^2,  theta <- theta - (m / (sqrt(v) + eps_hat)) step,
#: a <- r a + (1 - r) theta  (``c1``, ``c2``, ``cr`` are 1 - b1, 1 - b2, 1 - r)
ADAM = ("T g, T b1, T c1, T b2, T c2, T step, T eps_hat", "T p, T m, T v",
        "m = m * b1 + g * c1; v = v * b2 + g * g * c2; p = p - m / (sqrt(v) + eps_hat) * step;")
ADAM_EMA = (ADAM[0] + ", T r, T cr", ADAM[1] + ", T a", ADAM[2] + " a = a * r + p * cr;")

#: NumPy's maximum, which keeps a NaN of either side (CUDA's fmax drops it)
PREAMBLE = "#define NPSCORE_MAX(p, q) (((p) != (p) || (p) >= (q)) ? (p) : (q))\n"


def components_kernel(K):
    """``(inputs, outputs, body)`` of :meth:`FactorizedMixture.components` for K components: per k,
    ``var_k = v_k + sigma^2``, ``l_k = log w_k - log(var_k) / 2 - (x - mu_k)^2 / (2 var_k)``,
    ``a_k = -(x - mu_k) / var_k``, each written as the NumPy reference orders it."""
    ins = "T x, T s2, " + ", ".join(f"T lw{k}, T mu{k}, T v{k}" for k in range(K))
    outs = ", ".join(f"T l{k}, T a{k}, T var{k}" for k in range(K))
    body = "".join(f"var{k} = v{k} + s2; const T d{k} = x - mu{k}; "
                   f"l{k} = lw{k} - T(0.5) * log(var{k}) - T(0.5) * d{k} * d{k} / var{k}; a{k} = -d{k} / var{k}; "
                   for k in range(K))
    return ins, outs, body


def mix_kernel(K, offsets):
    """``(inputs, outputs, body)`` of :meth:`FactorizedMixture.mix` for K components (``offsets``: with
    ``u_0 .. u_{K-2}``): ``r_k = exp(max(l_k + u_k - top, floor)) / sum_j (...)`` with ``top`` the largest
    logit, and ``s = sum_k r_k a_k``, the sums in the reference's order."""
    ins = ", ".join([f"T l{k}" for k in range(K)] + [f"T a{k}" for k in range(K)]
                    + ([f"T u{k}" for k in range(K - 1)] if offsets else []) + ["T floor_"])
    outs = ", ".join([f"T r{k}" for k in range(K)] + ["T s"])
    logit = [f"l{k} + u{k}" if offsets and k < K - 1 else f"l{k}" for k in range(K)]
    body = "".join(f"const T z{k} = {z}; " for k, z in enumerate(logit))
    body += "T top = z0; " + "".join(f"top = NPSCORE_MAX(top, z{k}); " for k in range(1, K))
    body += "".join(f"const T e{k} = exp(NPSCORE_MAX(z{k} - top, floor_)); " for k in range(K))
    body += "T total = e0; " + "".join(f"total = total + e{k}; " for k in range(1, K))
    body += "".join(f"r{k} = e{k} / total; " for k in range(K))
    body += "s = r0 * a0; " + "".join(f"s = s + r{k} * a{k}; " for k in range(1, K))
    return ins, outs, body


OUTPUTS = ("a", "d1", "d2")
_KERNELS = {}


def enabled():
    """True on the CuPy backend unless ``NPSCORE_FUSED=0`` (read when the backend was chosen:
    :func:`npscore.backend.fused`)."""
    return backend.fused()


def activation_kernel(name, order):
    """``(inputs, outputs, body)`` of activation ``name`` with ``order`` derivatives."""
    local, exprs = ACTIVATIONS[name]
    outs = OUTPUTS[:order + 1]
    return "T z", ", ".join(f"T {o}" for o in outs), local + "".join(f" {o} = {x};" for o, x in zip(outs, exprs))


def _compiled(key, spec):
    if key not in _KERNELS:
        _KERNELS[key] = backend.xp().ElementwiseKernel(*spec, "npscore_" + "_".join(map(str, key)),
                                                       preamble=PREAMBLE)
    return _KERNELS[key]


def has_activation(name):
    """Whether activation ``name`` has a kernel here (one without runs its NumPy rule on CuPy)."""
    return name in ACTIVATIONS


def activation(name, z, order):
    """``(a, a', a'')[:order + 1]`` of activation ``name`` at ``z``, one kernel."""
    out = _compiled((name, order), activation_kernel(name, order))(z)
    return out if isinstance(out, tuple) else (out,)


def adam(p, g, m, v, b1, b2, step, floor, ema=None):
    """:func:`npscore.optim.adam_leaf` as one kernel (:data:`ADAM`, :data:`ADAM_EMA`): Adam's step on one
    leaf in place, with ``ema = (a, r)`` also ``a <- r a + (1 - r) theta``."""
    scalars = (b1, 1.0 - b1, b2, 1.0 - b2, step, floor)
    if ema is None:
        _compiled(("adam",), ADAM)(g, *scalars, p, m, v)
    else:
        a, r = ema
        _compiled(("adam_ema",), ADAM_EMA)(g, *scalars, r, 1.0 - r, p, m, v, a)


def components(x, s2, logw, means, variances):
    """``(l, a, var)``, lists of K ``(B, D)`` arrays, from ``x : (B, D)``, ``s2 = sigma^2 : (B, 1)`` and
    the base's ``(D, K)`` log-weights, means and variances (:func:`components_kernel`)."""
    K = logw.shape[1]
    out = _compiled(("components", K), components_kernel(K))(
        x, s2, *[c for k in range(K) for c in (logw[:, k], means[:, k], variances[:, k])])
    return list(out[0::3]), list(out[1::3]), list(out[2::3])


def mix(logs, a, offsets, floor):
    """``(r, s)``: the K responsibilities and ``s = sum_k r_k a_k`` (:func:`mix_kernel`)."""
    K = len(logs)
    out = _compiled(("mix", K, offsets is not None), mix_kernel(K, offsets is not None))(
        *logs, *a, *(offsets or []), floor)
    return list(out[:K]), out[K]
