"""The notes' two-mode example, top to bottom (first report, section 8).

Run: python examples/two_modes.py [--quick]
"""
import sys

from npscore import backend

backend.use("numpy")            # "cupy" on a GPU: nothing else changes

from npscore.densities import two_modes                       # noqa: E402
from npscore.losses import ncsn                               # noqa: E402
from npscore.metrics import energy_distance, mode_fractions   # noqa: E402
from npscore.nn import NoiseConditionalMLP                    # noqa: E402
from npscore.optim import Adam                                # noqa: E402
from npscore.plotting import trajectories                    # noqa: E402
from npscore.sampling import annealed_langevin                # noqa: E402
from npscore.training import fit                              # noqa: E402

quick = "--quick" in sys.argv
steps = 300 if quick else 10000

# 1. data: two Gaussian modes with weights 1/5 and 4/5
data = two_modes(weights=(0.2, 0.8))
sigmas = (0.75, 0.5, 0.25, 0.1, 0.05, 0.025, 0.01)

# 2. a noise-conditional score s(x, sigma), trained by DSM at every level
model = NoiseConditionalMLP([2, 128, 128, 2])
params = model.init(seed=0)


def loss(p, rng):
    return ncsn(model, p, data.sample(512, rng), sigmas, rng=rng, check=False)


params, _, losses = fit(loss, params, Adam(lr=1e-3), steps, seed=0, desc="training")
print(f"final loss {sum(losses[-100:]) / 100:.4f}")

# 3. annealed Langevin from uniform noise, largest sigma first
rng = backend.rng(1)
x0 = rng.uniform((2000, 2), -3.0, 3.0)
x, path = annealed_langevin(model.score_fn(params), x0, sigmas, rng, step_scale=2e-5, n_steps_each=100,
                            record_every=10)

# 4. how close is it? mode weights and energy distance against fresh data
fresh = data.sample(2000, rng)
print("mode fractions", [round(f, 3) for f in mode_fractions(data, x)], "(true 0.2, 0.8)")
print(f"energy distance {energy_distance(x, fresh):.4f} "
      f"(data vs data: {energy_distance(data.sample(2000, rng), fresh):.4f})")
trajectories("two_modes_samples.png", x, path, fresh)
print("figure: two_modes_samples.png")
