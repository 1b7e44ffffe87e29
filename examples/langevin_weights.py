"""Plain vs annealed Langevin on a 1/5 - 4/5 mixture, with the exact score.

No training: the failure of plain Langevin to find the mode weights is a
property of the sampler (Song and Ermon 2019, section 3.2). NCSN's own toy:
means +-5 (1, 1), unit variance, weights 0.8 / 0.2, 1280 starts uniform on
[-8, 8]^2; plain Langevin with step 0.1 for 1000 steps. The annealed run uses
the exact noised score (convolution adds sigma^2 to each component's variance).

Run: python examples/langevin_weights.py [--quick]
"""
import sys

from npscore import backend

backend.use("numpy")

from npscore.densities import GaussianMixture                 # noqa: E402
from npscore.metrics import mode_fractions                    # noqa: E402
from npscore.plotting import sample_panels                    # noqa: E402
from npscore.sampling import annealed_langevin, langevin      # noqa: E402

quick = "--quick" in sys.argv
mix = GaussianMixture(backend.asarray([0.8, 0.2]), backend.asarray([[5.0, 5.0], [-5.0, -5.0]]), 1.0)
rng = backend.rng(0)
x0 = rng.uniform((1280, 2), -8.0, 8.0)

plain = langevin(mix.score, x0, rng, step=0.1, n_steps=200 if quick else 1000)
sigmas = [20.0 * (1.0 / 20.0) ** (i / 9) for i in range(10)]  # geometric 20 -> 1, as NCSN's toy
annealed = annealed_langevin(lambda x, s: mix.noised(s).score(x), x0, sigmas, rng, step_scale=0.1,
                             n_steps_each=20 if quick else 100)

print("true weights        [0.800, 0.200]")
for name, x in (("plain Langevin", plain), ("annealed Langevin", annealed)):
    print(f"{name:<19} [{', '.join(f'{f:.3f}' for f in mode_fractions(mix, x))}]")
sample_panels("langevin_weights.png", [("plain Langevin", plain), ("annealed Langevin", annealed)], lim=10)
print("figure: langevin_weights.png")
