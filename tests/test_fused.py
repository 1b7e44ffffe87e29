"""The fused CuPy kernels against their NumPy references.

On the CPU the kernels' CUDA C bodies are compiled as C++ (one loop over the elements, each
parameter an array) and run on NumPy arrays; on a GPU the CuPy kernels themselves run."""
import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from npscore import backend, fused, optim
from npscore.nn import activations

DTYPES = {"float32": ("float", 2e-6), "float64": ("double", 1e-14)}
Z = np.concatenate([np.linspace(-40.0, 40.0, 801), [0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 700.0, -700.0, np.nan]])


K = 5                                       # the MNIST base's components


def _kernels():
    """name -> (inputs, outputs, body) of every kernel in npscore.fused."""
    specs = {f"{n}_{k}": fused.activation_kernel(n, k) for n in fused.ACTIVATIONS for k in range(3)}
    return {**specs, "adam": fused.ADAM, "adam_ema": fused.ADAM_EMA, "components": fused.components_kernel(K),
            "mix": fused.mix_kernel(K, False), "mix_offsets": fused.mix_kernel(K, True)}


def _names(params):
    return [p.split()[1] for p in params.split(",")]


def _source(ctype, cuda=False):
    """Every kernel as a C++ loop over the elements, or (``cuda``) as a CUDA kernel of one thread per element."""
    out = ([] if cuda else ["#include <cmath>", "using namespace std;"]) + [fused.PREAMBLE, f"typedef {ctype} T;"]
    head, loop = (("__global__ void", "long i = blockIdx.x * (long)blockDim.x + threadIdx.x; if (i < n)") if cuda
                  else ('extern "C" void', "for (long i = 0; i < n; ++i)"))
    for name, (ins, outs, body) in _kernels().items():
        args = [f"const T *{p}_" for p in _names(ins)] + [f"T *{p}_" for p in _names(outs)]
        reads = "".join(f" const T {p} = {p}_[i];" for p in _names(ins))
        refs = "".join(f" T &{p} = {p}_[i];" for p in _names(outs))
        out.append(f'{head} {name}(long n, {", ".join(args)}) {{\n'
                   f"  {loop} {{{reads}{refs}\n    {body}\n  }}\n}}")
    return "\n".join(out)


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory):
    """dtype -> a callable ``(name, *arrays)`` running the C++ build of each kernel in place."""
    if shutil.which("g++") is None:
        pytest.skip("no C++ compiler to build the kernel bodies on the CPU")
    folder, libs = tmp_path_factory.mktemp("fused"), {}
    for dtype, (ctype, _) in DTYPES.items():
        src, lib = folder / f"{dtype}.cpp", folder / f"{dtype}.so"
        src.write_text(_source(ctype))
        subprocess.run(["g++", "-O2", "-ffp-contract=off", "-shared", "-fPIC", str(src), "-o", str(lib)],
                       check=True, capture_output=True)
        libs[dtype] = ctypes.CDLL(str(lib))

    def run(dtype, name, *arrays):
        for a in arrays:
            assert a.dtype == dtype and a.flags.c_contiguous
        getattr(libs[dtype], name)(ctypes.c_long(arrays[0].size), *[a.ctypes.data_as(ctypes.c_void_p) for a in arrays])
    return run


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no CUDA compiler")
@pytest.mark.parametrize("dtype", DTYPES)
def test_the_bodies_compile_as_cuda(tmp_path, dtype):
    src = tmp_path / "kernels.cu"
    src.write_text(_source(DTYPES[dtype][0], cuda=True))
    r = subprocess.run(["nvcc", "-c", str(src), "-o", str(tmp_path / "kernels.o")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", fused.ACTIVATIONS)
def test_activation_bodies_compute_their_numpy_rules(host_kernels, name, dtype):
    z, tol = Z.astype(dtype), DTYPES[dtype][1]
    rule = activations.ACTIVATIONS[name].reference
    for order in range(3):
        outs = [np.empty_like(z) for _ in range(order + 1)]
        with np.errstate(all="ignore"):
            host_kernels(dtype, f"{name}_{order}", z, *outs)
            expected = rule(z, order)
        for k, (got, want) in enumerate(zip(outs, expected)):
            assert np.array_equal(np.isnan(got), np.isnan(want)), (name, order, k)      # NaN in, NaN out
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{name} order {order}, output {k}")


def _adam_case(dtype, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    p, g, a = (rng.standard_normal(n).astype(dtype) for _ in range(3))
    m, v = 0.1 * rng.standard_normal(n).astype(dtype), rng.random(n).astype(dtype) ** 4
    return p, g, m, v, a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_ema", [False, True])
def test_adam_bodies_take_adams_numpy_step(host_kernels, dtype, with_ema):
    p, g, m, v, a = _adam_case(dtype)
    b1, b2, step, floor, r, tol = 0.9, 0.999, 3e-3, 2e-9, 0.9, DTYPES[dtype][1]
    want = [x.copy() for x in (p, m, v, a)]
    optim.adam_leaf(want[0], g, want[1], want[2], b1, b2, step, floor, (want[3], r) if with_ema else None)
    scalars = (b1, 1 - b1, b2, 1 - b2, step, floor) + ((r, 1 - r) if with_ema else ())   # the kernel's inputs
    host_kernels(dtype, "adam_ema" if with_ema else "adam", g, *[np.full_like(p, c) for c in scalars],
                 p, m, v, *([a] if with_ema else []))
    for got, ref in zip((p, m, v, a), want):
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
    assert not np.array_equal(p, _adam_case(dtype)[0])             # the step moved the params
    assert np.array_equal(a, _adam_case(dtype)[4]) != with_ema     # the average moves only when asked


def _mixture_case(dtype, B=6, D=40, seed=0):
    """A FactorizedMixture of K components with a point mass, data, sigma and offsets in ``dtype``."""
    from npscore.mnist.base import FactorizedMixture
    rng = np.random.default_rng(seed)
    w = rng.random((D, K)) + 0.05
    variances = rng.random((D, K)) * 0.05
    variances[:, 0] = 0.0                                         # an atom, as MNIST's base has at 0
    base = FactorizedMixture(w / w.sum(1, keepdims=True), rng.random((D, K)), variances)
    x, sigma = rng.random((B, D)).astype(dtype), np.exp(rng.uniform(-5, 0, B)).astype(dtype)
    x[0, 0] = np.nan                                              # NaN in, NaN out
    offsets = [3.0 * rng.standard_normal((B, D)).astype(dtype) for _ in range(K - 1)]
    return base, x, sigma, offsets


def _full(a, shape):
    return np.ascontiguousarray(np.broadcast_to(a, shape))


@pytest.mark.parametrize("dtype", DTYPES)
def test_mixture_bodies_compute_the_bases_numpy_terms(host_kernels, dtype):
    base, x, sigma, offsets = _mixture_case(dtype)
    tol, shape = DTYPES[dtype][1], x.shape
    with np.errstate(invalid="ignore"):
        logs, a, var = base.components(x, sigma)
    logw = np.log(base.weights.astype(dtype))
    ins = [x, _full((sigma * sigma)[:, None], shape)]
    ins += [_full(c[:, k].astype(dtype), shape) for k in range(K) for c in (logw, base.means, base.variances)]
    outs = [np.empty_like(x) for _ in range(3 * K)]
    host_kernels(dtype, "components", *ins, *outs)
    for got, want in zip(outs, [c for k in range(K) for c in (logs[k], a[k], var[k])]):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    for name, u in (("mix", None), ("mix_offsets", offsets)):
        with np.errstate(invalid="ignore"):
            r, s = base.mix(logs, a, u)
        floor = np.full_like(x, 0.7 * np.log(np.finfo(dtype).tiny))
        outs = [np.empty_like(x) for _ in range(K + 1)]
        host_kernels(dtype, name, *logs, *a, *(u or []), floor, *outs)
        for got, want in zip(outs, r + [s]):
            assert np.isnan(want[0, 0])
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.nanmax(np.abs(want)))
        assert np.allclose(sum(outs[:K]).ravel()[1:], 1.0)         # responsibilities of one pixel sum to 1


def test_the_numpy_backend_never_fuses():
    backend.use("numpy")
    assert not fused.enabled()
    z = np.linspace(-3, 3, 7)
    assert all(np.array_equal(a, b) for a, b in zip(activations.swish(z, 2), activations.swish.reference(z, 2)))


# ---------------------------------------------------------------- on a GPU: the CuPy kernels themselves
@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", fused.ACTIVATIONS)
def test_cupy_activation_kernels_match_the_references(name, dtype, monkeypatch):
    backend.use("cupy")                                             # conftest restores the backend
    z = backend.asarray(Z.astype(dtype))
    rule, tol = activations.ACTIVATIONS[name], 4 * DTYPES[dtype][1]
    assert fused.enabled()
    for order in range(3):
        got, want = rule(z, order), rule.reference(z, order)
        assert len(got) == order + 1
        for a, b in zip(got, want):
            a, b = backend.to_numpy(a), backend.to_numpy(b)
            assert np.array_equal(np.isnan(a), np.isnan(b))
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_cupy_mixture_kernels_match_the_numpy_path(dtype, monkeypatch):
    base, x, sigma, offsets = _mixture_case(dtype)
    backend.use("cupy")                                             # conftest restores the backend
    from npscore.mnist.base import FactorizedMixture
    base = FactorizedMixture(*(backend.asarray(c) for c in (base.weights, base.means, base.variances)))
    x, sigma, offsets = backend.asarray(x), backend.asarray(sigma), [backend.asarray(u) for u in offsets]
    results = {}
    for setting in ("1", "0"):
        monkeypatch.setenv("NPSCORE_FUSED", setting)
        backend.use("cupy")                                         # the switch is read when the backend is chosen
        logs, a, var = base.components(x, sigma)
        results[setting] = logs + a + var + [c for u in (None, offsets) for rs in [base.mix(logs, a, u)]
                                             for c in rs[0] + [rs[1]]]
    tol = 4 * DTYPES[dtype][1]
    for got, want in zip(*results.values()):
        got, want = backend.to_numpy(got), backend.to_numpy(want)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(1.0, np.nanmax(np.abs(want))))


@pytest.mark.gpu
@pytest.mark.parametrize("with_ema", [False, True])
def test_cupy_adam_kernel_matches_the_numpy_path(with_ema, monkeypatch):
    backend.use("cupy")                                             # conftest restores the backend
    results = {}
    for setting in ("1", "0"):                                      # the kernel, then the NumPy path on CuPy
        monkeypatch.setenv("NPSCORE_FUSED", setting)
        backend.use("cupy")                                         # the switch is read when the backend is chosen
        p, g, m, v, a = (backend.asarray(x) for x in _adam_case("float32"))
        params, average, opt = [(p, p[:10].copy())], [(a, a[:10].copy())], optim.Adam(lr=1e-2)
        state = opt.init(params)
        for _ in range(3):
            opt.update(params, [(g, g[:10])], state, ema=(average, 0.9) if with_ema else None)
        results[setting] = [backend.to_numpy(x) for x in (params[0][0], state["m"][0][0], state["v"][0][0],
                                                           average[0][0])]
    for got, want in zip(*results.values()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    moved = not np.array_equal(results["1"][3], _adam_case("float32")[4])
    assert moved == with_ema                                        # the average moves only when asked


def test_an_activation_without_a_kernel_runs_its_numpy_rule_on_the_fused_path(monkeypatch):
    """A rule with no compiled kernel falls back to its NumPy definition (no KeyError on a GPU): here
    the fused path is forced on the NumPy backend with one kernel taken away."""
    import numpy as np
    from npscore.nn import activations
    monkeypatch.setattr(fused, "enabled", lambda: True)
    monkeypatch.setattr(fused, "ACTIVATIONS", {k: v for k, v in fused.ACTIVATIONS.items() if k != "swish"})
    z = np.linspace(-3, 3, 7)
    assert not fused.has_activation("swish") and fused.has_activation("tanh")
    got = activations.swish(z, 1)
    assert all(np.array_equal(a, b) for a, b in zip(got, activations.swish.reference(z, 1)))
    with pytest.raises(AttributeError):                  # tanh still goes to its kernel, which NumPy lacks
        activations.tanh(z, 1)
