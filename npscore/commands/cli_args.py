"""The flags of the ``npscore`` subcommands: argument types that say what was wrong, and each
subcommand's flags with their defaults from one home (:mod:`npscore.config`)."""
import argparse
import math

from .. import backend
from ..mnist.model import GATE_INPUTS
from ..mnist.sample import SAMPLERS as MNIST_SAMPLERS
from ..sampling import SAMPLERS
from ..toys import DATASETS
from .config import ARCHITECTURES, DEMO_STEPS as STEPS, LOSSES, ModelConfig, RunConfig
from .mnist_config import MNIST_PRESETS as PRESETS


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each default shown once: not added where the help states it, nor for None or an off switch."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default:" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


# ---------------------------------------------------------------- argument types
def _number(kind, low, what, closed=False):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}") from None
        if not ((low <= v if closed else low < v) and v < math.inf):
            raise argparse.ArgumentTypeError(f"must be {what}; got {text!r}")
        return v
    return parse


positive_int = _number(int, 1, "an int >= 1", closed=True)
non_negative_int = _number(int, 0, "an int >= 0", closed=True)
positive_float = _number(float, 0.0, "a positive finite number")
non_negative_float = _number(float, 0.0, "a finite number >= 0", closed=True)


def window_size(text):
    """0 or an odd int (the local gate's neighbourhood)."""
    value = non_negative_int(text)
    if value % 2 == 0 and value:
        raise argparse.ArgumentTypeError(f"must be 0 or an odd int; got {text!r}")
    return value


def _ints(text, example):
    """The comma-separated ints of ``text`` (the error shows ``example``)."""
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated ints such as {example}; got {text!r}") from None


def _sizes(text):
    sizes = _ints(text, "2,64,64,2")
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"must be at least two widths >= 1; got {text!r}")
    return sizes


def _channels(text):
    """Three comma-separated positive ints, the U-Net's channels."""
    sizes = _ints(text, "16,32,32")
    if len(sizes) != 3 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"must be three comma-separated widths >= 1, c1,c2,c3; got {text!r}")
    return tuple(sizes)


def _backend_arg(p):
    p.add_argument("--backend", default=backend.from_environment(), choices=backend.BACKENDS,
                   help="array backend (default: $NPSCORE_BACKEND, else numpy)")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the traceback of an error (also before the command)")


def _common(p, out):
    p.add_argument("--out", default=out, help="folder for everything the command writes")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of every random draw")
    _backend_arg(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _mnist_model_args(p):
    """``npscore mnist``'s flags of the model and its training (each defaulting to ``--preset``'s)."""
    p.add_argument("--preset", default="cpu", choices=tuple(PRESETS),
                   help="; ".join(f"{name}: {preset.describe()}" for name, preset in PRESETS.items())
                   + " (gpu, unet-gpu: with --backend cupy)")
    p.add_argument("--channels", type=_channels, default=None,
                   help="the U-Net's channels c1,c2,c3 (--preset unet-*; default: from --preset)")
    p.add_argument("--sigma-min", type=positive_float, default=None,
                   help="the smallest noise level (default: from --preset)")
    p.add_argument("--steps", type=positive_int, default=None, help="training steps (default: from --preset)")
    p.add_argument("--batch", "--batch-size", dest="batch", type=positive_int, default=None,
                   help="images per step (default: from --preset)")
    p.add_argument("--hidden", type=positive_int, default=None,
                   help="width H of the gated MLP 784-H-...-H-5x784 (--preset cpu, gpu; default: from --preset)")
    p.add_argument("--depth", type=positive_int, default=None,
                   help="hidden layers of the gated MLP (default: from --preset)")
    p.add_argument("--bound", type=non_negative_float, default=None,
                   help="bound B of the residual, B tanh(o / B); 0: unbounded (default: from --preset)")
    p.add_argument("--window", type=window_size, default=None,
                   help="odd size W of the local gate's W x W neighbourhoods; 0: no local gate "
                        "(default: from --preset)")
    p.add_argument("--gate-input", choices=GATE_INPUTS, default=None,
                   help="what the local gate reads: x, or the first pass's denoised image (default: from --preset)")
    p.add_argument("--gate-steps", type=positive_int, default=None,
                   help="steps that train the local gate alone, after --steps (default: from --preset)")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam's learning rate")
    p.add_argument("--sigma-features", type=non_negative_int, default=None,
                   help="Fourier features of log sigma in the model's sigma embedding (default: from --preset)")
    p.add_argument("--sigma-max", type=positive_float, default=None,
                   help="the largest noise level (default: the largest distance between training images)")
    p.add_argument("--checkpoint-every", type=positive_int, default=None,
                   help="steps between checkpoints; the draws are re-seeded there (default: from --preset)")


def _mnist_args(p, train=True):
    _common(p, "mnist_out")
    p.add_argument("--data", default=None, help="folder of the four MNIST IDX files (default: $NPSCORE_MNIST_DIR)")
    p.add_argument("--samples", type=non_negative_int if train else positive_int, default=None if train else 1000,
                   help="images to sample and score" + (" (0: none; default: from --preset)" if train else ""))
    p.add_argument("--sampler", default=MNIST_SAMPLERS[0], choices=MNIST_SAMPLERS, help="how to sample")
    p.add_argument("--steps-each", type=positive_int, default=10, help="annealed Langevin steps per sigma")
    p.add_argument("--step-scale", type=positive_float, default=None,
                   help="annealed Langevin step scale epsilon (alpha_i = epsilon sigma_i^2 / sigma_L^2); "
                        "default: half of Song and Ermon 2020's technique 4")
    p.add_argument("--sde-steps", type=positive_int, default=None,
                   help="steps of the SDE samplers (default: from --preset, or the checkpoint's)")
    p.add_argument("--classifier", default=None,
                   help="classifier .npz for the metrics (default OUT/classifier.npz, trained and saved if missing)")
    if train:
        _mnist_model_args(p)
        p.add_argument("--resume", action="store_true",
                       help="continue the run in --out: its training, or the sampling of its trained model")
        p.add_argument("--force", action="store_true",
                       help="replace the run in --out (its files stay until the new ones are written)")
    else:
        p.add_argument("--force", action="store_true", help="replace the samples already in --out")


def _demo_args(p):
    """``npscore demo``'s flags."""
    _common(p, "demo_out")
    p.add_argument("--steps", type=positive_int, default=STEPS, help="training steps per model")
    p.add_argument("--samples", type=positive_int, default=2000, help="samples per sampler")
    p.add_argument("--equal-weights", action="store_true", help="weights (1/2, 1/2) instead of (1/5, 4/5)")
    p.add_argument("--force", action="store_true", help="replace the run already in --out")


def _likelihood_args(p):
    """``npscore likelihood``'s flags."""
    p.add_argument("--checkpoint", required=True, help="OUT/checkpoint.npz of `npscore train` (--loss ncsn, "
                   "sde-ve or sde-vp) or of `npscore mnist`")
    p.add_argument("--data", default=None, help="the data the model was trained on (default: as recorded in "
                   "the checkpoint; for MNIST the folder of its IDX files)")
    p.add_argument("--n", type=positive_int, default=1000, help="held-out points")
    p.add_argument("--steps", type=positive_int, default=200, help="Heun steps of the ODE")
    p.add_argument("--trace", default="both", choices=("exact", "hutchinson", "both"),
                   help="the divergence: npscore's exact trace, Hutchinson's estimate, or both side by side")
    p.add_argument("--probes", type=positive_int, default=4, help="Hutchinson probes per step")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the held-out draws and probes")
    _backend_arg(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _sample_args(p):
    """``npscore sample``'s flags."""
    p.add_argument("--checkpoint", required=True, help="an OUT/checkpoint.npz written by `npscore mnist`")
    _mnist_args(p, train=False)


def _check_args(p):
    """``npscore check``'s flags."""
    p.add_argument("--sizes", type=_sizes, default=[2, 64, 64, 2], help="layer widths, comma-separated")
    p.add_argument("--activation", default="softplus", choices=("softplus", "tanh", "elu", "swish"),
                   help="activation of the hidden layers")
    p.add_argument("--batch", type=positive_int, default=16, help="examples to check on")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the params and inputs")
    _backend_arg(p)


def _model_args(p):
    """``npscore train``'s model flags; the defaults are :class:`npscore.config.ModelConfig`'s."""
    model = ModelConfig()
    p.add_argument("--arch", default=model.arch, choices=ARCHITECTURES,
                   help="resmlp: residual blocks on Fourier features of x, which learn thin structure; "
                        "mlp: the notes' two-hidden-layer MLP on raw x, which blurs it")
    p.add_argument("--hidden", type=positive_int, default=model.hidden, help="width H of every layer")
    p.add_argument("--blocks", type=non_negative_int, default=model.n_blocks, help="residual blocks (resmlp)")
    p.add_argument("--activation", default=model.activation, choices=("softplus", "tanh", "elu", "swish"),
                   help="the activation (smooth: ISM's trace gradient needs a'')")
    p.add_argument("--fourier-features", type=non_negative_int, default=model.fourier_features,
                   help="F, the frequencies of the Fourier features of x (resmlp; 0: raw x only), "
                        "which let the network vary on the data's finest scale")
    p.add_argument("--fourier-scale", type=positive_float, default=model.fourier_scale,
                   help="standard deviation of the frequencies, in cycles per unit of x")
    p.add_argument("--sigma-features", type=non_negative_int, default=model.sigma_features,
                   help="Fourier features of log sigma the model sees beside log sigma (--loss ncsn, sde-ve, sde-vp)")


def _train_args(p):
    """``npscore train``'s flags; the defaults are :class:`npscore.config.RunConfig`'s and
    :class:`npscore.config.ModelConfig`'s, the reasons from ``docs/design/structure.md``."""
    run = RunConfig()
    _common(p, "train_out")
    p.add_argument("--data", default=run.data,
                   help=f"a built-in set ({', '.join(DATASETS)}) or a .npy / .csv file of shape (N, D)")
    p.add_argument("--loss", default=run.loss, choices=LOSSES, help="the objective")
    p.add_argument("--sampler", default="all", choices=("all",) + tuple(SAMPLERS),
                   help="a sampler, or every one the model can drive")
    p.add_argument("--steps", type=positive_int, default=run.steps,
                   help="training steps (the precision and recall of the sweep stop improving past it)")
    p.add_argument("--batch", type=positive_int, default=run.batch, help="examples per step")
    p.add_argument("--lr", type=positive_float, default=run.lr, help="Adam's learning rate")
    _model_args(p)
    p.add_argument("--samples", type=positive_int, default=2000, help="samples per sampler")
    p.add_argument("--sigma-max", type=positive_float, default=None,
                   help="largest noise level (default: the largest distance between training points)")
    p.add_argument("--sigma-min", type=positive_float, default=None,
                   help="smallest noise level (default: half the median nearest-neighbour distance per coordinate)")
    p.add_argument("--steps-each", type=positive_int, default=run.n_steps_each,
                   help="annealed Langevin steps per level")
    p.add_argument("--no-standardize", action="store_true",
                   help="train on a file's rows as they are (by default they are centred and scaled to unit RMS "
                        "radius, and the samples written back in the data's units)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--force", action="store_true", help="replace the run in --out")
