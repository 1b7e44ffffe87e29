"""What an ``npscore mnist`` run is, in one place: :class:`MnistConfig` (the model, its training, its
sampling) and the presets of ``--preset``, each built into its score model by
:meth:`MnistConfig.build_model`; records go to and from a checkpoint, checked.
"""
import dataclasses
import os
from dataclasses import dataclass

from .. import checks
from ..mnist.model import ACTIVATION, make_model
from ..nn.unet import UNet
from ..io import kind_of

def mnist_folder(data=None):
    """The MNIST folder a command reads: ``data`` (``--data``), else ``$NPSCORE_MNIST_DIR`` (the one
    place the commands read it), else None."""
    return data or os.environ.get("NPSCORE_MNIST_DIR") or None


#: the smallest noise level of ``npscore mnist``'s gated MLP (pixels lie in [0, 1])
MNIST_SIGMA_MIN = 0.01
#: the models of ``npscore mnist``, and the U-Net's group normalisation groups
MNIST_ARCHS = ("gated-mlp", "unet")
UNET_GROUPS = 8
#: the fields only one model reads (the rest are shared)
ARCH_FIELDS = {"gated-mlp": ("hidden", "depth", "bound", "window", "gate_steps", "gate_input"), "unet": ("channels",)}


@dataclass(frozen=True)
class MnistConfig:
    """One ``npscore mnist`` run: the model, its training, and ``samples`` drawn after. The model is
    ``arch``: ``gated-mlp``, the gated score of :mod:`npscore.mnist.model` (``depth`` hidden layers
    of width ``hidden``, the residual bound ``bound``, a ``window x window`` local gate reading
    ``gate_input``, trained alone for ``gate_steps`` after the ``steps`` of the rest), or ``unet``,
    the convolutional :class:`npscore.nn.unet.UNet` of ``channels``; both see ``sigma_features``
    Fourier features of ``log sigma``. Noise levels run from ``sigma_max`` (default: from the data)
    down to ``sigma_min``. The presets are :data:`MNIST_PRESETS`."""
    arch: str = "gated-mlp"
    channels: tuple = (32, 64, 64)
    sigma_min: float = MNIST_SIGMA_MIN
    sde_steps: int = 1000
    hidden: int = 512
    depth: int = 5
    steps: int = 25000
    batch: int = 128
    samples: int = 1000
    sigma_features: int = 16
    bound: float = 4.0
    window: int = 5
    gate_steps: int = 3000
    gate_input: str = "denoised"
    checkpoint_every: int = 1000
    lr: float = 1e-3
    seed: int = 0
    sigma_max: float = None

    def __post_init__(self):
        for name, flag in (("steps", "--steps"), ("batch", "--batch"), ("sde_steps", "--sde-steps"),
                           ("checkpoint_every", "--checkpoint-every"), ("gate_steps", "--gate-steps")):
            checks.integer(getattr(self, name), f"{name} ({flag})")
        checks.positive(self.lr, "lr (--lr)")
        checks.integer(self.samples, "samples (--samples)", 0)
        checks.integer(self.seed, "seed (--seed)", 0)
        checks.one_of(self.arch, "arch (--arch)", MNIST_ARCHS)
        if self.arch == "unet" and self.window:
            raise ValueError(f"window (--window) is the gated MLP's local gate; the U-Net has none: leave it out "
                             f"or give 0; got {self.window}")
        checks.positive(self.sigma_min, "sigma_min (--sigma-min)")
        if self.sigma_max is not None and not checks.positive(self.sigma_max, "sigma_max") > self.sigma_min:
            raise ValueError(f"sigma_max (--sigma-max) must exceed the smallest noise level {self.sigma_min} "
                             f"(pixels lie in [0, 1]; the largest level is about the largest distance between "
                             f"images, 10 to 20); got {self.sigma_max!r}")

    def build_model(self, base, window=None):
        """The gated score on the per-pixel ``base``, with the local gate of ``window`` (default
        the config's; 0: none)."""
        if self.arch == "unet":
            return UNet(28, self.channels, UNET_GROUPS, self.sigma_features)
        window = self.window if window is None else window
        return make_model(self.hidden, base, scale_input=True, sigma_features=self.sigma_features,
                          depth=self.depth, bound=self.bound, window=window,
                          gate_input=self.gate_input if window else "x")

    def to_record(self, sigmas, base):
        """The record a checkpoint stores: these settings under the names the model uses (:meth:`settings`),
        the noise levels and the per-pixel base (:meth:`npscore.mnist.base.FactorizedMixture.to_lists`)."""
        return {**self.settings(), "sigmas": list(sigmas), "base": base.to_lists()}

    def settings(self):
        """The settings a checkpoint records, under the names the model uses."""
        return {"arch": self.arch, "channels": list(self.channels), "sigma_min": self.sigma_min, "hidden": self.hidden, "depth": self.depth, "gated": self.arch == "gated-mlp", "scale_input": True,
                "sigma_features": self.sigma_features, "residual_bound": self.bound, "gate_window": self.window,
                "gate_steps": self.gate_steps if self.window else 0, "gate_trained": False,
                "gate_input": self.gate_input if self.window else "x", "continuous": True, "activation": ACTIVATION,
                "seed": self.seed, "batch": self.batch, "lr": self.lr, "steps": self.steps,
                "sde_steps": self.sde_steps,
                "checkpoint_every": self.checkpoint_every, "kind": "npscore mnist"}

    @classmethod
    def from_record(cls, record, where="the checkpoint"):
        """The config of a record written by :meth:`to_record`; a one-line error for anything else
        (a record without ``"gated"``, from before the gate, describes no config of this class)."""
        if kind_of(record) != "npscore mnist":
            raise ValueError(f"{where}: its config is from another kind of run ({kind_of(record)}), "
                             "not from npscore mnist")
        if not (record.get("scale_input") is True and record.get("activation", ACTIVATION) == ACTIVATION):
            raise ValueError(f"{where}: its config is from an older npscore mnist (scale_input "
                             f"{record.get('scale_input')!r}, activation {record.get('activation')!r}); train again")
        try:
            return cls(arch=str(record.get("arch", "gated-mlp")), channels=tuple(record.get("channels", cls.channels)),
                       sigma_min=float(record.get("sigma_min", MNIST_SIGMA_MIN)),
                       hidden=int(record["hidden"]), depth=int(record["depth"]),
                       sigma_features=int(record["sigma_features"]), bound=float(record["residual_bound"]),
                       window=int(record["gate_window"]), gate_input=str(record["gate_input"]),
                       gate_steps=int(record["gate_steps"]) or cls.gate_steps,     # 0 without a gate: unused
                       seed=int(record["seed"]), batch=int(record.get("batch", record.get("batch_size"))), lr=float(record["lr"]),
                       checkpoint_every=int(record["checkpoint_every"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: its config is damaged or from an unknown version ({exc}); "
                             "train again") from None

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def model_settings(self):
        """``{name: value}`` of the fields only this config's model reads (:data:`ARCH_FIELDS`)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items() if k in ARCH_FIELDS[self.arch]}

    def describe(self):
        """``name value, ...`` of the fields this config's model reads."""
        other = {f for arch, fields in ARCH_FIELDS.items() if arch != self.arch for f in fields}
        return ", ".join(f"{k} {v}" for k, v in vars(self).items() if k not in other)


def from_preset(name, **given):
    """The preset ``name`` (``--preset``) with the fields ``given`` on the command line. A field that
    only the other model reads is an error: it would be ignored."""
    preset = MNIST_PRESETS[checks.one_of(name, "preset (--preset)", tuple(MNIST_PRESETS))]
    stray = [f for arch, fields in ARCH_FIELDS.items() if arch != preset.arch for f in fields if f in given]
    if stray:
        flags = ", ".join("--" + f.replace("_", "-") for f in stray)
        owner = next(arch for arch, fields in ARCH_FIELDS.items() if stray[0] in fields)
        raise ValueError(f"{flags}: a setting of the {owner} model, but --preset {name} trains the {preset.arch}; "
                         f"leave it out, or choose a preset of the {owner}")
    return preset.replace(**given)


#: ``npscore mnist --preset``: the flags given on the command line win
MNIST_PRESETS = {"cpu": MnistConfig(),
                 "gpu": MnistConfig(hidden=1024, steps=37500, batch=256, samples=5000, gate_steps=5000,
                                    checkpoint_every=2500),
                 "unet-cpu": MnistConfig(arch="unet", channels=(16, 32, 32), window=0, steps=4000, batch=64,
                                         checkpoint_every=500, sigma_min=0.002, sde_steps=200),
                 "unet-gpu": MnistConfig(arch="unet", channels=(32, 64, 128), window=0, steps=20000, batch=128,
                                         samples=5000, checkpoint_every=2500, sigma_min=0.002)}
