"""How many array operations one MNIST training step makes: on CuPy, each is a kernel launch.

The step of a preset (``--preset gpu`` by default, its model without the local gate: loss,
gradients, Adam with the moving average) runs on NumPy with every array a counting subclass of
``ndarray``: each ufunc call (arithmetic, ``exp``, ``matmul``, reductions) and each array function
returning an array (``concatenate``, ``stack``, ``pad``, ...) counts one. Indexing, ``astype`` and copies are not
counted, so the figures are a floor. Then the same with the kernels of :mod:`npscore.fused`
(activations, Adam with the average, the base mixture's components and softmax) standing in as
one operation each, as they run on CuPy.

Run: python benchmarks/launches.py [--preset gpu] [--images 5000]
"""
import argparse
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


class Counted(np.ndarray):
    """An ndarray whose every ufunc call and array function adds one to ``Counted.n``."""
    n, paused = 0, False

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        Counted.n += not Counted.paused
        plain = lambda a: a.view(np.ndarray) if isinstance(a, Counted) else a     # noqa: E731
        if out is not None:
            kwargs["out"] = tuple(plain(o) for o in out)
        result = getattr(ufunc, method)(*map(plain, inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        wrap = lambda r: r.view(Counted) if isinstance(r, np.ndarray) else r        # noqa: E731
        return tuple(map(wrap, result)) if isinstance(result, tuple) else wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        result = super().__array_function__(func, types, args, kwargs)
        Counted.n += not Counted.paused and isinstance(result, np.ndarray)       # not result_type and the like
        return result


def counted(a):
    return a.view(Counted) if isinstance(a, np.ndarray) else a


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="gpu")
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--data", default=os.environ.get("NPSCORE_MNIST_DIR") or os.path.join(HERE, "..", "..", "shared", "data", "mnist"))
    args = ap.parse_args()
    from npscore import backend, fused, optim
    from npscore.commands.mnist_config import MNIST_PRESETS
    from npscore.mnist import run, train
    from npscore.tree import tree_map
    backend.use("numpy")
    for draw in ("normal", "uniform", "integers"):                  # the step's draws count too
        original = getattr(backend.Generator, draw)
        setattr(backend.Generator, draw, lambda self, *a, _f=original, **k: counted(_f(self, *a, **k)))
    config = MNIST_PRESETS[args.preset]
    x = run.load_data(args.data, test=False)["x_train"][:args.images]
    base, sigmas = train.data_base(x), train.noise_levels(x, config.sigma_max)
    model = config.build_model(base, window=0)
    params = tree_map(counted, model.init(0, "float32"))
    loss, opt = train._dsm(counted(x), sigmas, config.batch)(model), optim.Adam(lr=config.lr)
    state, average = opt.init(params), tree_map(lambda p: p.copy(), params)

    def step(k):
        Counted.n = 0
        grads = loss(params, backend.rng(0, k))[1]
        after_loss = Counted.n
        opt.update(params, grads, state, ema=(average, 0.999))
        return after_loss, Counted.n - after_loss

    step(0)
    plain = step(1)

    def one_kernel(fn):
        def run_as_one(*a, **k):
            Counted.n += 1
            Counted.paused = True
            try:
                return fn(*a, **k)
            finally:
                Counted.paused = False
        return run_as_one
    from npscore.mnist.base import FactorizedMixture
    from npscore.nn import activations
    fused.enabled = lambda: not Counted.paused             # inside a stand-in kernel, the NumPy path
    fused.activation = one_kernel(lambda name, z, order: activations.ACTIVATIONS[name].reference(z, order))
    fused.adam = one_kernel(optim.adam_leaf)
    # the mixture's kernels stand in at the level of the methods (their few operations before the
    # kernel, the log-weights and sigma^2, count inside it)
    FactorizedMixture.components = one_kernel(FactorizedMixture.components)
    FactorizedMixture.mix = one_kernel(FactorizedMixture.mix)
    with_kernels = step(2)
    print(f"preset {args.preset}: array operations in one training step (a floor: indexing, astype, copies uncounted)")
    print(f"{'':<24}{'loss + gradients':>18}{'Adam + average':>16}{'step':>8}")
    for name, (a, b) in (("NumPy expressions", plain), ("with npscore.fused", with_kernels)):
        print(f"{name:<24}{a:>18}{b:>16}{a + b:>8}")


if __name__ == "__main__":
    main()
