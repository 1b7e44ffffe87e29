"""What a low-dimensional run is, in one place: the model, the noise schedule and the SDE,
the training settings, and the data they were fitted to.

:class:`ModelConfig` builds the score model, :class:`RunConfig` the whole run
(its :meth:`RunConfig.build_sde` the SDE of its loss); both go to and from the
JSON stored in a checkpoint, checked, so that ``npscore train``, its resume,
``npscore likelihood`` and :func:`npscore.lowdim.resample` rebuild the same
model from the same record. A record from before this layout (no ``"model"``
key) is read as the two-hidden-layer MLP it described.
"""
import dataclasses
import json
import math
from dataclasses import dataclass, field

from .. import checks
from ..io import check_levels, kind_of  # noqa: F401  (kind_of: the record's command, read here too)
from ..densities import Gaussian
from ..nn.activations import get as activation
from ..nn.conditional import NoiseConditionalMLP
from ..nn.mlp import MLP
from ..nn.resmlp import ResidualMLP
from ..objectives import OBJECTIVES
from ..sde import SDES

#: the objectives of ``npscore train`` (their one home: :data:`npscore.objectives.OBJECTIVES`), and those
#: that train a noise-conditional s(x, sigma)
LOSSES = tuple(OBJECTIVES)
CONDITIONAL = tuple(name for name, o in OBJECTIVES.items() if o.conditional)
ARCHITECTURES = ("resmlp", "mlp")
#: the working precision of ``npscore train``
DTYPE = "float32"


@dataclass(frozen=True)
class ModelConfig:
    """A score model: ``resmlp`` (:class:`npscore.nn.ResidualMLP`: residual blocks on Fourier
    features of x) or ``mlp`` (the two-hidden-layer MLP of the first report, section 4).

    Conditional models are ``s(x, sigma)`` (:class:`npscore.nn.NoiseConditionalMLP`), seeing
    ``x / sqrt(1 + sigma^2)`` and ``sigma_features`` Fourier features of ``log sigma``.
    """
    arch: str = "resmlp"
    hidden: int = 128
    n_blocks: int = 3
    activation: str = "swish"
    fourier_features: int = 16
    fourier_scale: float = 1.0
    sigma_features: int = 8

    def __post_init__(self):
        checks.one_of(self.arch, "arch", ARCHITECTURES)
        checks.integer(self.hidden, "hidden")
        checks.integer(self.n_blocks, "n_blocks", 0)
        checks.integer(self.fourier_features, "fourier_features", 0)
        checks.positive(self.fourier_scale, "fourier_scale")
        checks.integer(self.sigma_features, "sigma_features", 0)
        activation(self.activation)

    def build(self, D, conditional=True):
        """The model for data of dimension ``D``: ``s(x, sigma)`` when ``conditional``, else ``s(x)``."""
        D, H = checks.integer(D, "D"), self.hidden
        if self.arch == "mlp":
            if conditional:
                return NoiseConditionalMLP([D, H, H, D], self.activation, scale_input=True,
                                           sigma_features=self.sigma_features)
            return MLP([D, H, H, D], self.activation)
        if conditional:
            return NoiseConditionalMLP([D, H, D], self.activation, scale_input=True,
                                       sigma_features=self.sigma_features, n_blocks=self.n_blocks,
                                       fourier_features=self.fourier_features, fourier_scale=self.fourier_scale)
        return ResidualMLP(D, D, H, self.n_blocks, self.activation, 0, self.fourier_features, self.fourier_scale)


#: ``npscore demo``'s training steps
DEMO_STEPS = 10000
#: the notes' model (first report, sections 4 and 8): softplus, two hidden layers, log sigma alone
NOTES_MLP = ModelConfig(arch="mlp", activation="softplus", sigma_features=0)


@dataclass(frozen=True)
class RunConfig:
    """One ``npscore train`` run: the data, the objective, the model, the schedule, the training.

    A file's rows are standardised (``standardize``): ``(x - mean) / scale`` with the mean row and
    one scale, the RMS distance to it; ``standardization = (mean, scale)`` records what was used, and
    samples are written back in the data's units. The built-in sets are generated at unit scale and
    used as they are. ``prior = (mean, cov)`` is the Gaussian the SDE samplers start from and the
    likelihood ends in (:meth:`npscore.sde.SDE.prior_fit` of the training rows), and ``data_sha256``
    the file's digest: every fitted quantity of a run is read from its record, never refitted to
    the data a later command is given."""
    data: str = "two-modes"
    loss: str = "ncsn"
    model: ModelConfig = field(default_factory=ModelConfig)
    steps: int = 10000
    batch: int = 512
    lr: float = 1e-3
    seed: int = 0
    n_train: int = 20000
    n_steps_each: int = 100
    sigmas: tuple = ()
    step_scale: float = 0.0
    standardize: bool = True
    standardization: tuple = None
    prior: tuple = None
    data_sha256: str = None

    def __post_init__(self):
        checks.one_of(self.loss, "--loss", LOSSES)
        for name in ("steps", "batch", "n_train", "n_steps_each"):
            checks.integer(getattr(self, name), name)
        checks.integer(self.seed, "seed", 0)
        checks.positive(self.lr, "lr")
        if not isinstance(self.model, ModelConfig):
            raise TypeError(f"model must be a ModelConfig; got {type(self.model).__name__}")

    @property
    def conditional(self):
        return self.loss in CONDITIONAL

    def build_model(self, D):
        """The score model for data of dimension ``D``."""
        return self.model.build(D, self.conditional)

    def build_sde(self):
        """The SDE its objective names (:data:`npscore.objectives.OBJECTIVES`, :data:`npscore.sde.SDES`):
        VP and sub-VP with their defaults, VE over the schedule's ``[sigma_L, sigma_1]`` (for ``ncsn``
        too: its SDE samplers, and the prior of every run)."""
        kind = OBJECTIVES[self.loss].sde
        if kind == "ve" and not self.sigmas:
            raise ValueError("sigmas must be set (the schedule) before the VE SDE is built; got none")
        return SDES[kind](self.sigmas)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def prior_density(self, where="the checkpoint"):
        """The recorded prior as a :class:`npscore.densities.Gaussian` (float64)."""
        if self.prior is None:
            raise ValueError(f"{where} records no prior (it was written by an npscore from before runs stored "
                             "theirs); train the model again to score or sample it from its own record")
        return Gaussian(self.prior[0], self.prior[1])

    def to_dict(self):
        """The record a checkpoint stores, as plain JSON types."""
        d = dataclasses.asdict(self)
        d["sigmas"] = list(self.sigmas)
        if self.standardization is not None:
            d["standardization"] = [list(self.standardization[0]), self.standardization[1]]
        if self.prior is not None:
            d["prior"] = [list(self.prior[0]), [list(row) for row in self.prior[1]]]
        d["kind"] = "npscore train"
        return d

    def to_json(self):
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text, where="the checkpoint"):
        """The config of a record written by :meth:`to_json` (or by an older ``npscore train``,
        whose two-hidden-layer MLP it describes); a one-line error for anything else."""
        try:
            d = json.loads(text) if isinstance(text, str) else dict(text)
        except (ValueError, TypeError):
            raise ValueError(f"{where}: its config is not JSON; the file is damaged: train again") from None
        if kind_of(d) != "npscore train":
            raise ValueError(f"{where}: its config is from another kind of run (npscore mnist?), "
                             "not from npscore train")
        try:
            if "model" not in d:                              # before the model was recorded
                d = {"data": d["data"], "loss": d["loss"], "seed": d.get("seed", 0),
                     "n_train": d.get("n_train", 20000), "n_steps_each": d["n_steps_each"],
                     "sigmas": d["sigmas"], "step_scale": d["step_scale"],
                     "model": dataclasses.asdict(dataclasses.replace(NOTES_MLP, hidden=d["hidden"]))}
            fields = {f.name for f in dataclasses.fields(cls)} - {"kind"}
            model = dict(d["model"])
            if "blocks" in model:                             # recorded before it was named n_blocks
                model["n_blocks"] = model.pop("blocks")
            model = ModelConfig(**model)
            rest = {k: v for k, v in d.items() if k in fields and k != "model"}
            rest["sigmas"] = tuple(rest.get("sigmas", ()))
            if rest.get("standardization") is not None:
                mean, scale = rest["standardization"]
                rest["standardization"] = (tuple(mean), scale)
            if rest.get("prior") is not None:
                mean, cov = rest["prior"]
                rest["prior"] = (tuple(float(m) for m in mean), tuple(tuple(float(c) for c in row) for row in cov))
            config = cls(model=model, **rest)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: its config is damaged or from an unknown version ({exc}); "
                             "train again") from None
        check_fitted(config, where)
        return config


def check_fitted(config, where):
    """The fitted quantities of a record (noise levels, standardisation, prior) usable as they are."""
    if config.sigmas:
        check_levels(config.sigmas, where)
    numbers = []
    if config.standardization is not None:
        mean, scale = config.standardization
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"{where}: its standardisation scale must be positive and finite; got {scale!r} "
                             "(the file was edited or damaged: train again)")
        numbers += list(mean)
    if config.prior is not None:
        numbers += list(config.prior[0]) + [c for row in config.prior[1] for c in row]
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"{where}: its standardisation or prior holds NaN or inf (the file was edited or "
                         "damaged: train again)")
