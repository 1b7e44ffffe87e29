"""The npscore command: demo, train, likelihood, check, mnist, sample.

Every argument is checked before any work; every error is one line naming
what was wrong and what to do (--debug shows the traceback).
"""
import argparse
import dataclasses
import os
import sys
import warnings
from importlib.metadata import PackageNotFoundError, version

from .. import backend
from ..gradcheck import demo_check
from . import cli_args, demo, likelihood_report, lowdim, mnist as run
from .config import ModelConfig, RunConfig
from .mnist_config import MNIST_PRESETS as PRESETS, from_preset
from .runfolder import RunFolder


# ---------------------------------------------------------------- commands
def _cmd_check(args):
    try:
        errors = demo_check(args.sizes, args.activation, args.batch, args.seed)
    except ValueError as exc:                       # the library's "sizes" is the flag --sizes
        raise ValueError(f"--{exc}" if str(exc).startswith("sizes ") else str(exc)) from None
    print(f"hand-written passes of MLP({args.sizes}, {args.activation!r}) against autograd "
          f"(backend {backend.name()}, float64), max relative error:")
    for name, err in errors.items():
        print(f"  {name:<11} {err:.2e}")
    if args.sizes[0] != args.sizes[-1]:
        print(f"  trace, trace_grad: not checked (the Jacobian of a {args.sizes[0]} -> {args.sizes[-1]} map "
              "is not square, so it has no trace)")
    ok = max(errors.values()) < 1e-10
    print("all passes agree with autograd to 1e-10" if ok else "MISMATCH: a pass disagrees with autograd")
    return 0 if ok else 1


def _cmd_demo(args):
    weights = (0.5, 0.5) if args.equal_weights else (0.2, 0.8)
    demo.run(args.out, seed=args.seed, steps=args.steps, weights=weights, n_samples=args.samples,
             progress=not args.no_progress, force=args.force)
    return 0


def _cmd_train(args):
    model = ModelConfig(arch=args.arch, hidden=args.hidden, n_blocks=args.blocks, activation=args.activation,
                        fourier_features=args.fourier_features, fourier_scale=args.fourier_scale,
                        sigma_features=args.sigma_features)
    config = RunConfig(data=args.data, loss=args.loss, model=model, steps=args.steps, batch=args.batch, lr=args.lr,
                       seed=args.seed, n_steps_each=args.steps_each, standardize=not args.no_standardize)
    lowdim.run(args.out, config, sampler=args.sampler, n_samples=args.samples, sigma_max=args.sigma_max,
               sigma_min=args.sigma_min, resume=args.resume, force=args.force, progress=not args.no_progress)
    return 0


def _cmd_likelihood(args):
    report = likelihood_report.report(args.checkpoint, data=args.data, n=args.n, n_steps=args.steps, trace=args.trace,
                               n_probes=args.probes, seed=args.seed, progress=not args.no_progress)
    print(report)
    return 0


def _mnist_inputs(args, evaluate, folder):
    """The MNIST splits and the classifier, loaded (or trained and saved in ``folder``) before the
    long work."""
    data = run.load_data(args.data, test=evaluate)
    clf = None
    if evaluate:
        path = args.classifier or folder.path("classifier.npz")
        if not args.classifier and not os.path.exists(path):
            folder.claim("classifier.npz")
        clf = run.get_classifier(path, data, progress=not args.no_progress)
    return data, clf


def _cmd_mnist(args):
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(PRESETS[args.preset])
             if getattr(args, f.name, None) is not None}
    config = from_preset(args.preset, **given)
    with RunFolder(args.out, run.RUN_FILES, args.resume, args.force, command="npscore mnist") as folder:
        run.check_start(folder, config, args.resume)
        data, clf = _mnist_inputs(args, config.samples > 0, folder)
        model, params, losses, seconds, record = run.train(args.out, data["x_train"], config, resume=args.resume,
                                                           progress=not args.no_progress, folder=folder)
        print(f"trained to step {len(losses)}; last 100 steps mean loss "
              f"{sum(losses[-100:]) / len(losses[-100:]):.4f}; this run {seconds:.1f}s")
        if config.samples:
            extra = {"train_seconds_this_run": seconds, "steps": config.steps, "batch": config.batch,
                     "arch": config.arch, **config.model_settings(), "preset": args.preset}
            run.sample_and_evaluate(model, params, record["sigmas"], args.out, data, clf, n=config.samples,
                                    seed=config.seed, sampler=args.sampler, n_steps_each=args.steps_each,
                                    step_scale=args.step_scale, extra=extra, progress=not args.no_progress,
                                    folder=folder, sde_steps=config.sde_steps)
    return 0


def _cmd_sample(args):
    model, params, config = run.load_model(args.checkpoint)
    with RunFolder(args.out, run.SAMPLE_FILES, force=args.force, command="npscore sample") as folder:
        data, clf = _mnist_inputs(args, True, folder)
        run.sample_and_evaluate(model, params, config["sigmas"], args.out, data, clf, n=args.samples,
                                seed=args.seed, sampler=args.sampler, n_steps_each=args.steps_each,
                                step_scale=args.step_scale, progress=not args.no_progress, folder=folder,
                                sde_steps=args.sde_steps or config.get("sde_steps", run.SDE_STEPS))
    return 0


# ---------------------------------------------------------------- the parser
#: each subcommand: its help, the function that adds its flags (:mod:`npscore.cli_args`), what it runs
COMMANDS = {
    "demo": ("the notes' two-mode 2-D example: train, sample, figures, metrics", cli_args._demo_args, _cmd_demo),
    "train": ("any objective on low-dimensional data: train, sample with every sampler, measure",
              cli_args._train_args, _cmd_train),
    "likelihood": ("exact log-likelihood of held-out data through the probability-flow ODE",
                   cli_args._likelihood_args, _cmd_likelihood),
    "mnist": ("train the MNIST score model, sample, score", cli_args._mnist_args, _cmd_mnist),
    "sample": ("sample and score from a saved MNIST checkpoint", cli_args._sample_args, _cmd_sample),
    "check": ("check the hand-written MLP passes against autograd", cli_args._check_args, _cmd_check),
}


def _release():
    try:
        return version("npscore")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser():
    """The ``npscore`` argument parser: every flag typed, helped and defaulted."""
    fmt = cli_args.HelpFormatter
    parser = argparse.ArgumentParser(prog="npscore", formatter_class=fmt, description=(
        "Score matching and score-based generative modelling from scratch in NumPy. "
        "Every argument is checked before any work."))
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser.add_argument("--version", action="version", version=f"npscore {_release()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_flags, func) in COMMANDS.items():
        p = sub.add_parser(name, formatter_class=fmt, help=help_text)
        add_flags(p)
        p.set_defaults(func=func)
    return parser


def _use_backend(name, argv):
    """``backend.use(name)`` (the NumPy backend tunes the allocator there); a bad name that came from
    ``NPSCORE_BACKEND`` rather than ``--backend`` is reported as the variable's."""
    given = any(a == "--backend" or a.startswith("--backend=") for a in (sys.argv[1:] if argv is None else argv))
    try:
        backend.use(name)
    except ValueError as exc:
        if given:
            raise ValueError(f"--backend: {exc}") from None
        raise ValueError(f"the environment variable NPSCORE_BACKEND: {exc} (unset it, or set it to numpy or "
                         "cupy; --backend overrides it)") from None


def main(argv=None):
    """Run the command; every error is one line on stderr and exit status 2 (``--debug``, before or
    after the command: the traceback). NumPy's floating-point warnings are silenced: a non-finite
    value is an error the command names."""
    args = build_parser().parse_args(argv)
    try:
        _use_backend(args.backend, argv)
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
