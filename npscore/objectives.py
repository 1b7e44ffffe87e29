"""The objectives of ``npscore train``, one registry: each name maps to its training step, whether it
trains a noise-conditional ``s(x, sigma)``, the SDE of its samplers and prior (:data:`npscore.sde.SDES`),
and the samplers (:data:`npscore.sampling.SAMPLERS`) its model can drive.

Adding an objective is its loss (in :mod:`npscore.losses` / :mod:`npscore.ncsn_losses`) and one entry
here; adding an SDE is its class and one entry of :data:`npscore.sde.SDES`, then an entry here that
names it (``sde-subvp`` is the example).

==========  ===========================================  ==================================
name        step (first report / second report)          samplers
==========  ===========================================  ==================================
esm         explicit SM against the true score (Def. 1)  langevin
ism         implicit SM, exact trace (Def. 1; 2.2)       langevin
ssm         sliced SM, one projection (2.2)              langevin
ssm-vr      sliced SM with variance reduction            langevin
dsm         denoising SM at sigma_L (6-7)                langevin
ncsn        DSM over the noise levels (8)                every one (VE SDE)
sde-ve      continuous-time DSM on the VE SDE (3.3)      every one
sde-vp      ... on the VP SDE                            langevin and the SDE samplers
sde-subvp   ... on the sub-VP SDE                        the SDE samplers (its smallest noise,
                                                         1e-4 at t = 1e-3, is no level for Langevin)
==========  ===========================================  ==================================
"""
from collections import namedtuple

from . import losses
from .sampling import SAMPLERS

#: ``step(model, params, x_batch, rng, context)`` -> ``(value, grads)``; ``context`` has ``sigmas``
#: (the run's levels, largest first), ``sde`` and ``true_score`` (None unless the data's is known)
Objective = namedtuple("Objective", "step conditional sde samplers needs_true_score")
Context = namedtuple("Context", "sigmas sde true_score")

LANGEVIN = ("langevin",)
SDE_SAMPLERS = ("reverse-sde", "predictor-corrector", "probability-flow")


def _esm(model, p, xb, rng, ctx):
    return losses.esm(model, p, xb, ctx.true_score, check=False)


def _ism(model, p, xb, rng, ctx):
    return losses.ism(model, p, xb, check=False)


def _ssm(variance_reduction):
    def step(model, p, xb, rng, ctx):
        return losses.ssm(model, p, xb, 1, rng=rng, variance_reduction=variance_reduction, check=False)
    return step


def _dsm(model, p, xb, rng, ctx):
    return losses.dsm(model, p, xb, ctx.sigmas[-1], rng=rng, check=False)


def _ncsn(model, p, xb, rng, ctx):
    return losses.ncsn(model, p, xb, ctx.sigmas, rng=rng, check=False)


def _sde_dsm(model, p, xb, rng, ctx):
    return losses.sde_dsm(model, p, xb, ctx.sde, rng=rng, check=False)


OBJECTIVES = {
    "esm": Objective(_esm, False, "ve", LANGEVIN, True),
    "ism": Objective(_ism, False, "ve", LANGEVIN, False),
    "ssm": Objective(_ssm(False), False, "ve", LANGEVIN, False),
    "ssm-vr": Objective(_ssm(True), False, "ve", LANGEVIN, False),
    "dsm": Objective(_dsm, False, "ve", LANGEVIN, False),
    "ncsn": Objective(_ncsn, True, "ve", tuple(SAMPLERS), False),
    "sde-ve": Objective(_sde_dsm, True, "ve", tuple(SAMPLERS), False),
    "sde-vp": Objective(_sde_dsm, True, "vp", LANGEVIN + SDE_SAMPLERS, False),
    "sde-subvp": Objective(_sde_dsm, True, "subvp", SDE_SAMPLERS, False),
}
