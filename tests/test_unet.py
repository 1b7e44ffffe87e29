"""npscore.nn.unet: the U-Net score model end to end against autograd (npscore.reference_unet) in
float64 on a tiny instance, and through the library's losses and samplers with no special case."""
import numpy as np
import pytest
from autograd import grad

from conftest import dev, host, rel_err
from npscore import backend, losses, reference_unet as ref
from npscore.nn.unet import UNet
from npscore.sampling import run as run_sampler
from npscore.sde import VESDE
from npscore.tree import tree_leaves

TOL = 1e-10
TINY = dict(side=8, channels=(2, 4, 3), groups=2, sigma_features=2)


def _setup(seed=0, B=3):
    model = UNet(**TINY)
    rng = np.random.default_rng(seed)
    params = model.init(seed, "float64")
    params[-1] = tuple(dev(rng.standard_normal(a.shape) * 0.3) for a in params[-1])   # a non-zero output layer
    params = [tuple(dev(host(a) + 0.1 * rng.standard_normal(a.shape)) for a in layer) for layer in params]
    x, sigma = rng.standard_normal((B, 64)), np.exp(rng.uniform(-2, 1, B))
    return model, params, [tuple(host(a) for a in layer) for layer in params], x, sigma, rng


def _ref(hp, x, sigma):
    return ref.unet(hp, x, sigma, TINY["side"], TINY["channels"], TINY["groups"], TINY["sigma_features"])


def test_apply_and_vjp_in_params_and_x_match_autograd():
    model, p, hp, x, sigma, rng = _setup()
    g = rng.standard_normal(x.shape)
    assert rel_err(model.apply(p, dev(x), dev(sigma)), _ref(hp, x, sigma)) < TOL
    gp, gx = model.vjp(p, dev(x), dev(sigma), dev(g))
    rgp = grad(lambda q: np.sum(_ref(q, x, sigma) * g))(hp)
    rgx = grad(lambda y: np.sum(_ref(hp, y, sigma) * g))(x)
    assert rel_err(tree_leaves(gp), tree_leaves(rgp)) < TOL and rel_err(gx, rgx) < TOL
    gxs = model.vjp_x(p, dev(x), dev(sigma), [dev(g), dev(2 * g)])
    assert rel_err(gxs[0], rgx) < TOL and rel_err(gxs[1], 2 * rgx) < TOL


def test_a_scalar_sigma_and_the_score_fn_agree_with_apply():
    model, p, _, x, _, _ = _setup(1)
    a = model.apply(p, dev(x), 0.5)
    b = model.score_fn(p)(dev(x), 0.5)
    assert np.array_equal(host(a), host(b)) and model.exact_trace is False and model.conditional


def test_it_trains_with_the_librarys_dsm_and_samples_with_its_samplers():
    """sde_dsm's gradient is autograd's, and a few Adam steps lower it; every SDE sampler runs it."""
    model, p, hp, x, _, rng = _setup(2, B=8)
    sde = VESDE(0.05, 5.0)
    t, eps = rng.uniform(1e-3, 1.0, 8), rng.standard_normal((8, 64))
    value, grads = losses.sde_dsm(model, p, dev(x), sde, t=dev(t), noise=dev(eps))
    std = host(sde.marginal(dev(t))[1])
    ref_loss = lambda q: 0.5 * np.mean(std ** 2 * np.sum(                                # noqa: E731
        (_ref(q, x + std[:, None] * eps, std) + eps / std[:, None]) ** 2, axis=1))
    assert rel_err(tree_leaves(grads), tree_leaves(grad(ref_loss)(hp))) < TOL
    assert abs(float(value) - ref_loss(hp)) < 1e-10 * abs(ref_loss(hp))
    from npscore.optim import Adam
    opt, params = Adam(lr=1e-2), model.init(0, "float64")
    state, first = opt.init(params), None
    for i in range(30):
        v, g = losses.sde_dsm(model, params, dev(x), sde, rng=backend.rng(i))
        first = float(v) if first is None else first
        params, state = opt.update(params, g, state)
    assert float(losses.sde_dsm(model, params, dev(x), sde, rng=backend.rng(0))[0]) < first
    for name in ("reverse-sde", "probability-flow", "predictor-corrector"):
        out = run_sampler(name, model.score_fn(params), dev(5.0 * rng.standard_normal((4, 64))),
                          backend.rng(3), sde=sde, n_steps=20)
        assert out.shape == (4, 64) and np.isfinite(host(out)).all(), name


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="side must be a multiple of 4"):
        UNet(side=6)
    model = UNet(**TINY)
    with pytest.raises(ValueError, match="x must"):
        model.apply(model.init(0), dev(np.zeros((2, 63))), 0.5)
