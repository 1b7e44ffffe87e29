"""The npscore command: demo, train, likelihood, check, mnist, sample.

Every argument is checked before any work; every error is one line naming
what was wrong and what to do (--debug shows the traceback).
"""
import argparse
import sys

from . import backend
from .cli_args import _backend_arg, _common, _mnist_args, _sizes, _train_args, non_negative_int, positive_int
from .mnist.run import PRESETS

DEMO_STEPS = 10000


# ---------------------------------------------------------------- commands
def _cmd_check(args):
    from .gradcheck import demo_check
    errors = demo_check(args.sizes, args.activation, args.batch, args.seed)
    print(f"hand-written passes of MLP({args.sizes}, {args.activation!r}) against autograd "
          f"(backend {backend.name()}, float64), max relative error:")
    for name, err in errors.items():
        print(f"  {name:<11} {err:.2e}")
    ok = max(errors.values()) < 1e-10
    print("all passes agree with autograd to 1e-10" if ok else "MISMATCH: a pass disagrees with autograd")
    return 0 if ok else 1


def _cmd_demo(args):
    from . import demo, io
    io.writable_folder(args.out)
    weights = (0.5, 0.5) if args.equal_weights else (0.2, 0.8)
    demo.run(args.out, seed=args.seed, steps=args.steps, weights=weights, n_samples=args.samples,
             progress=not args.no_progress)
    return 0


def _cmd_train(args):
    from . import lowdim
    from .config import ModelConfig, RunConfig
    model = ModelConfig(args.arch, args.hidden, args.blocks, args.activation, args.fourier_features,
                        args.fourier_scale, args.sigma_features)
    config = RunConfig(args.data, args.loss, model, args.steps, args.batch, args.lr, args.seed,
                       n_steps_each=args.steps_each, standardize=not args.no_standardize)
    lowdim.run(args.out, config, args.sampler, args.samples, sigma_max=args.sigma_max, sigma_min=args.sigma_min,
               resume=args.resume, force=args.force, progress=not args.no_progress)
    return 0


def _cmd_likelihood(args):
    from . import likelihood
    report = likelihood.report(args.checkpoint, args.data, args.n, args.steps, args.trace, args.probes,
                               args.seed, progress=not args.no_progress)
    print(report)
    return 0


def _mnist_inputs(args, evaluate):
    """The MNIST splits and the classifier, loaded (or trained and saved) before the long work."""
    import os
    from . import io
    from .mnist import run
    io.writable_folder(args.out)
    io.clean_stale(args.out)
    data = run.load_data(args.data, test=evaluate)
    clf = run.get_classifier(args.classifier or os.path.join(args.out, "classifier.npz"), data,
                             progress=not args.no_progress) if evaluate else None
    return run, data, clf




def _cmd_mnist(args):
    import dataclasses
    from .mnist import run
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(PRESETS[args.preset])
             if getattr(args, f.name, None) is not None}
    config = PRESETS[args.preset].replace(**given)
    run.check_start(args.out, config.steps, args.resume, args.force)
    run, data, clf = _mnist_inputs(args, config.samples > 0)
    model, params, losses, seconds, record = run.train(args.out, data["x_train"], config, args.resume, args.force,
                                                       progress=not args.no_progress)
    print(f"trained to step {len(losses)}; last 100 steps mean loss {sum(losses[-100:]) / len(losses[-100:]):.4f}; "
          f"this run {seconds:.1f}s")
    if config.samples:
        run.sample_and_evaluate(model, params, record["sigmas"], args.out, data, clf, config.samples, config.seed,
                                args.sampler, args.steps_each, args.step_scale,
                                extra={"train_seconds_this_run": seconds, "steps": config.steps,
                                       "hidden": config.hidden, "batch_size": config.batch_size},
                                progress=not args.no_progress)
    return 0


def _cmd_sample(args):
    from .mnist import run
    model, params, config = run.load_model(args.checkpoint)
    run, data, clf = _mnist_inputs(args, True)
    run.sample_and_evaluate(model, params, config["sigmas"], args.out, data, clf, args.samples, args.seed,
                            args.sampler, args.steps_each, args.step_scale, progress=not args.no_progress)
    return 0


# ---------------------------------------------------------------- the parser
def build_parser():
    """The ``npscore`` argument parser: every flag typed, helped and defaulted."""
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="npscore", formatter_class=fmt, description=(
        "Score matching and score-based generative modelling from scratch in NumPy. "
        "Every argument is checked before any work."))
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    from importlib.metadata import PackageNotFoundError, version
    try:
        release = version("npscore")
    except PackageNotFoundError:
        release = "unknown (not installed)"
    parser.add_argument("--version", action="version", version=f"npscore {release}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", formatter_class=fmt,
                       help="the notes' two-mode 2-D example: train, sample, figures, metrics")
    _common(p, "demo_out")
    p.add_argument("--steps", type=positive_int, default=DEMO_STEPS, help="training steps per model")
    p.add_argument("--samples", type=positive_int, default=2000, help="samples per sampler")
    p.add_argument("--equal-weights", action="store_true", help="weights (1/2, 1/2) instead of (1/5, 4/5)")
    p.set_defaults(func=_cmd_demo)

    _train_args(sub.add_parser("train", formatter_class=fmt, help="any objective on low-dimensional data: "
                                                                "train, sample with every sampler, measure")
                ).set_defaults(func=_cmd_train)

    p = sub.add_parser("likelihood", formatter_class=fmt,
                       help="exact log-likelihood of held-out data through the probability-flow ODE")
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
    p.set_defaults(func=_cmd_likelihood)

    p = sub.add_parser("mnist", formatter_class=fmt, help="train the MNIST score model, sample, score")
    _mnist_args(p)
    p.set_defaults(func=_cmd_mnist)

    p = sub.add_parser("sample", formatter_class=fmt, help="sample and score from a saved MNIST checkpoint")
    p.add_argument("--checkpoint", required=True, help="an OUT/checkpoint.npz written by `npscore mnist`")
    _mnist_args(p, train=False)
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("check", formatter_class=fmt, help="check the hand-written MLP passes against autograd")
    p.add_argument("--sizes", type=_sizes, default=[2, 64, 64, 2], help="layer widths, comma-separated")
    p.add_argument("--activation", default="softplus", choices=("softplus", "tanh", "elu", "swish"),
                   help="activation of the hidden layers")
    p.add_argument("--batch", type=positive_int, default=16, help="examples to check on")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the params and inputs")
    _backend_arg(p)
    p.set_defaults(func=_cmd_check)
    return parser


def main(argv=None):
    """Run the command; every error is one line on stderr and exit status 2 (``--debug``, before or
    after the command: the traceback). NumPy's floating-point warnings are silenced: a non-finite
    value is an error the command names."""
    import warnings
    args = build_parser().parse_args(argv)
    try:
        backend.use(args.backend)
        backend.tune_allocator()
        with warnings.catch_warnings(), backend.quiet():
            warnings.simplefilter("ignore", RuntimeWarning)
            return args.func(args)
    except KeyboardInterrupt:
        print(f"npscore {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:            # every error: one line, the traceback only with --debug
        if args.debug:
            raise
        kind = "" if isinstance(exc, (ValueError, TypeError, FileNotFoundError)) else f"{type(exc).__name__}: "
        print(f"npscore {args.command}: error: {kind}{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
