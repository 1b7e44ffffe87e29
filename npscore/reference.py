"""The readable definition: npscore's model and losses in ``autograd.numpy``.

Everything here is written as the maths reads and differentiated by HIPS
autograd (``grad``, ``jacobian``, ``make_jvp``); nothing is derived by hand.
It is the oracle that pins the hand-written passes of :mod:`npscore.nn` and
the hand-derived gradients of :mod:`npscore.losses`: the tests compare the two
to a relative 1e-10 in float64. It runs on host NumPy arrays only (autograd
does not trace CuPy arrays, which is why the hand-written path exists).

Params are the same list of ``(W, b)`` pairs as :class:`npscore.nn.MLP`;
``activation`` is a name from :data:`ACTIVATIONS`.
"""
import autograd.numpy as anp
from autograd import elementwise_grad, grad, jacobian, make_jvp, value_and_grad

# ---------------------------------------------------------------- activations
ACTIVATIONS = {
    "softplus": lambda z: anp.logaddexp(0.0, z),
    "tanh": anp.tanh,
    "elu": lambda z: anp.where(z > 0, z, anp.exp(anp.where(z > 0, 0.0, z)) - 1.0),
    "swish": lambda z: z * 0.5 * (1.0 + anp.tanh(0.5 * z)),
}


def activation_derivatives(name):
    """``(a', a'')`` of an activation, derived by autograd (elementwise)."""
    f = ACTIVATIONS[name]
    d1 = elementwise_grad(f)
    return d1, elementwise_grad(d1)


# ---------------------------------------------------------------- the MLP
def mlp(params, x, activation="softplus", c=None):
    """``s(x)``: ``h_0 = [x, c]``, ``h_l = a(h_{l-1} W_l + b_l)``, linear last layer."""
    a = ACTIVATIONS[activation]
    h = x if c is None else anp.concatenate([x, c], axis=1)
    for W, b in params[:-1]:
        h = a(anp.dot(h, W) + b)
    W, b = params[-1]
    return anp.dot(h, W) + b


def residual_mlp(params, x, activation="swish", c=None, B=None):
    """The residual MLP of :mod:`npscore.nn.resmlp`: ``h_0 = [x, sin 2 pi x B, cos 2 pi x B, c]``,
    ``h = a(h_0 W_in + b_in)``, ``h <- h + a(h W_1 + b_1) W_2 + b_2`` per block, ``s = h W_out + b_out``."""
    a = ACTIVATIONS[activation]
    parts = [x] if B is None else [x, anp.sin(2 * anp.pi * anp.dot(x, B)), anp.cos(2 * anp.pi * anp.dot(x, B))]
    h = anp.concatenate(parts + ([] if c is None else [c]), axis=1)
    h = a(anp.dot(h, params[0][0]) + params[0][1])
    for k in range((len(params) - 2) // 2):
        (W1, b1), (W2, b2) = params[1 + 2 * k], params[2 + 2 * k]
        h = h + anp.dot(a(anp.dot(h, W1) + b1), W2) + b2
    W, b = params[-1]
    return anp.dot(h, W) + b


def _net(net, activation):
    """``net(params, x, c)``, or the MLP with ``activation`` when ``net`` is None."""
    return net or (lambda p, x, c=None: mlp(p, x, activation, c))


def neighbourhoods(h, window):
    """``(B D, window^2)``: each pixel's window of the square images ``h : (B, D)``,
    as one shift matrix per offset, ``h S_(i, j)`` (zero outside the image)."""
    side, r = int(round(h.shape[1] ** 0.5)), window // 2
    shifted = []
    for i in range(-r, r + 1):
        for j in range(-r, r + 1):
            S = anp.zeros((side * side, side * side))
            for y in range(side):
                for x in range(side):
                    if 0 <= y + i < side and 0 <= x + j < side:
                        S[(y + i) * side + x + j, y * side + x] = 1.0
            shifted.append(anp.dot(h, S))
    return anp.reshape(anp.stack(shifted, axis=2), (-1, window * window))


def noise_conditional(params, x, sigma, activation="softplus", base=None, gated=False, scale_input=False,
                      sigma_features=0, bound=0.0, window=0, gate_input="x", net=None):
    """``s(x, sigma) = mlp([x, gamma(sigma)]) / sigma`` (``net(params, x, c)`` in place of the mlp) with ``sigma : (B,)``, plus the
    noised score of a factorized mixture ``base = (weights, means, variances)``
    (each ``(D, K)``), taken by autograd from its log-density.

    ``gated``: the mlp has ``K D`` outputs ``[e, u_0 .. u_{K-2}]``; the base's
    log-weights are shifted by ``u`` (last component by 0) and its score is
    taken holding ``u`` fixed. ``scale_input``: the mlp sees ``x / sqrt(1 + sigma^2)``.
    ``gamma(sigma) = [l, sin(k pi l / 4), cos(k pi l / 4) for k = 1..sigma_features]``, ``l = log sigma``.
    ``bound = B > 0``: the residual is ``B tanh(out / B)``.
    ``window = W > 0``: the last pair of ``params``, ``(A, a)`` of shapes
    ``(J, W^2, K - 1)`` and ``(J, K - 1)``, is the local gate: ``u`` gets
    ``sum_j gamma_j (P_d(h) A_j + a_j)`` for each pixel's ``W x W`` window ``P_d(h)``;
    ``gate_input = "denoised"``: of ``x + sigma^2 s_0(x)`` instead of ``h``, ``s_0`` being the
    score without the local term.
    """
    D = x.shape[1]
    h = x / anp.sqrt(1.0 + sigma ** 2)[:, None] if scale_input else x
    ell = anp.log(sigma)[:, None]
    waves = [f(k * anp.pi / 4 * ell) for f in (anp.sin, anp.cos) for k in range(1, sigma_features + 1)]
    gamma = anp.concatenate([ell] + waves, axis=1)
    out = _net(net, activation)(params[:len(params) - 1] if window else params, h, gamma)
    e = bound * anp.tanh(out[:, :D] / bound) if bound else out[:, :D]
    s = e / sigma[:, None]
    if base is None:
        return s
    w, mu, v = base
    u = None

    def base_score(u):
        return elementwise_grad(lambda y: factorized_mixture_log_prob(y, sigma, w, mu, v, u).sum())(x)
    if gated:
        K = w.shape[1]
        u = anp.stack([out[:, D * (k + 1):D * (k + 2)] for k in range(K - 1)] + [anp.zeros(x.shape)], axis=2)
        if window:
            A, a = params[-1]
            seen = x + (sigma ** 2)[:, None] * (s + base_score(u)) if gate_input == "denoised" else h
            P = anp.reshape(neighbourhoods(seen, window), (x.shape[0], D, window * window))
            local = anp.einsum("bj,bdw,jwk->bdk", gamma, P, A) + anp.dot(gamma, a)[:, None, :]
            u = u + anp.concatenate([local, anp.zeros(x.shape + (1,))], axis=2)
    return s + base_score(u)


def factorized_mixture_log_prob(x, sigma, weights, means, variances, log_weight_shift=None):
    """``log prod_d sum_k w_dk N(x_d; mu_dk, v_dk + sigma^2)`` per example ``(B,)``
    (unnormalised in the weights when ``log_weight_shift : (B, D, K)`` is added to ``log w``)."""
    var = variances[None] + (sigma ** 2)[:, None, None]
    logit = anp.log(weights)[None] - 0.5 * anp.log(2 * anp.pi * var) - 0.5 * (x[:, :, None] - means[None]) ** 2 / var
    if log_weight_shift is not None:
        logit = logit + log_weight_shift
    top = anp.max(logit, axis=2, keepdims=True)
    return anp.sum(top[:, :, 0] + anp.log(anp.sum(anp.exp(logit - top), axis=2)), axis=1)


def vjp(params, x, g, activation="softplus", c=None, net=None):
    """``(g^T ds/dparams, g^T ds/dx)`` by reverse mode (``net(params, x, c)`` in place of the MLP)."""
    f = _net(net, activation)
    return grad(lambda p, x_: anp.sum(g * f(p, x_, c)), argnum=(0, 1))(params, x)


def jvp(params, x, v, activation="softplus", c=None, net=None):
    """``(s(x), (ds/dx) v)`` by forward mode (``make_jvp``), ``v : (B, D)``."""
    return make_jvp(lambda x_: _net(net, activation)(params, x_, c))(x)(v)


def jacobian_per_example(params, x, activation="softplus", c=None, net=None):
    """``ds/dx`` for each example, ``(B, D_out, D)``, one ``autograd.jacobian`` each."""
    f = _net(net, activation)
    out = []
    for b in range(x.shape[0]):
        cb = None if c is None else c[b:b + 1]
        out.append(jacobian(lambda xb: f(params, xb[None, :], cb)[0])(x[b]))
    return anp.stack(out)


def trace_jacobian(params, x, activation="softplus", c=None, net=None):
    """``tr(ds/dx)`` per example: the trace of :func:`jacobian_per_example`."""
    return anp.array([anp.trace(J) for J in jacobian_per_example(params, x, activation, c, net)])


def divergence(params, x, activation="softplus", c=None, net=None):
    """``tr(ds/dx)`` per example, differentiable: ``sum_i d s_i / d x_i``.

    Column ``i`` of each example's Jacobian diagonal comes from one reverse
    pass of ``sum_b s_i(x_b)`` (examples are independent), so this costs D
    reverse passes and can itself be differentiated by autograd.
    """
    D, f = x.shape[1], _net(net, activation)
    total = 0.0
    for i in range(D):
        col = elementwise_grad(lambda x_: f(params, x_, c)[:, i])(x)
        total = total + col[:, i]
    return total


# ---------------------------------------------------------------- the losses
def esm(params, x, target, activation="softplus"):
    """``(L, dL/dparams)`` of ``mean_b 1/2 ||s(x_b) - target_b||^2``."""
    return value_and_grad(
        lambda p: 0.5 * anp.mean(anp.sum((mlp(p, x, activation) - target) ** 2, axis=1)))(params)


def ism(params, x, activation="softplus", net=None):
    """``(L, dL/dparams)`` of ``mean_b tr(ds/dx)(x_b) + 1/2 ||s(x_b)||^2``."""
    def loss(p):
        s = _net(net, activation)(p, x)
        return anp.mean(divergence(p, x, activation, net=net) + 0.5 * anp.sum(s ** 2, axis=1))
    return value_and_grad(loss)(params)


def ssm(params, x, v, activation="softplus", variance_reduction=False, net=None):
    """``(L, dL/dparams)`` of sliced SM, ``v : (M, B, D)``.

    ``mean_{m,b} v^T (ds/dx) v + 1/2 (v^T s)^2``, or ``+ 1/2 ||s||^2`` with
    variance reduction.
    """
    def loss(p):
        total = 0.0
        for vm in v:
            s, Jv = make_jvp(lambda x_: _net(net, activation)(p, x_))(x)(vm)
            second = anp.sum(s ** 2, axis=1) if variance_reduction else anp.sum(vm * s, axis=1) ** 2
            total = total + anp.mean(anp.sum(vm * Jv, axis=1) + 0.5 * second)
        return total / len(v)
    return value_and_grad(loss)(params)


def dsm(params, x, sigma, noise, activation="softplus"):
    """``(L, dL/dparams)`` of ``mean_b 1/2 ||s(x + sigma eps) + eps / sigma||^2``."""
    def loss(p):
        s = mlp(p, x + sigma * noise, activation)
        return 0.5 * anp.mean(anp.sum((s + noise / sigma) ** 2, axis=1))
    return value_and_grad(loss)(params)


def ncsn(params, x, sigma, noise, activation="softplus", base=None, gated=False, scale_input=False,
         sigma_features=0, bound=0.0, window=0, gate_input="x", net=None):
    """``(L, dL/dparams)`` of ``mean_b sigma_b^2 1/2 ||s(x~_b, sigma_b) + eps_b / sigma_b||^2``.

    ``sigma : (B,)`` is each example's drawn level, ``x~ = x + sigma eps``.
    """
    def loss(p):
        s = noise_conditional(p, x + sigma[:, None] * noise, sigma, activation, base, gated, scale_input,
                              sigma_features, bound, window, gate_input, net)
        return 0.5 * anp.mean(sigma ** 2 * anp.sum((s + noise / sigma[:, None]) ** 2, axis=1))
    return value_and_grad(loss)(params)


def sde_dsm(params, x, mean_coef, std, noise, weight, activation="softplus"):
    """``(L, dL/dparams)`` of the continuous-time weighted DSM.

    ``x_t = mean_coef x + std eps``; ``mean_b weight_b 1/2 ||s(x_t, std) + eps / std||^2``
    (all three per example, ``(B,)``). The target ``-eps / std`` is
    ``grad log p_0t(x_t | x_0)``.
    """
    def loss(p):
        xt = mean_coef[:, None] * x + std[:, None] * noise
        s = noise_conditional(p, xt, std, activation)
        return 0.5 * anp.mean(weight * anp.sum((s + noise / std[:, None]) ** 2, axis=1))
    return value_and_grad(loss)(params)


# ---------------------------------------------------------------- densities
def gaussian_log_prob(x, mean, cov):
    """``log N(x; mean, cov)`` per row of ``x : (B, D)``, written from the formula."""
    D = x.shape[1]
    r = x - mean
    maha = anp.sum(anp.dot(r, anp.linalg.inv(cov)) * r, axis=1)
    return -0.5 * (maha + anp.log(anp.linalg.det(cov)) + D * anp.log(2 * anp.pi))


def mixture_log_prob(x, weights, means, covs):
    """``log sum_k w_k N(x; mean_k, cov_k)`` per row."""
    terms = anp.stack([anp.log(w) + gaussian_log_prob(x, m, c)
                       for w, m, c in zip(weights, means, covs)], axis=1)
    top = anp.max(terms, axis=1, keepdims=True)
    return (top + anp.log(anp.sum(anp.exp(terms - top), axis=1, keepdims=True)))[:, 0]


def score_of(log_prob):
    """``x -> grad_x log_prob(x)`` by autograd (rows are independent)."""
    return elementwise_grad(lambda x: log_prob(x))
