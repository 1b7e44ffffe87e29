"""The ``npscore`` command: ``npscore demo | check | train | mnist | sample``."""
import argparse
import sys

from . import backend

DEMO_STEPS = 10000


def _positive_float(text):
    """argparse type: a positive finite float (argparse names the option in its error)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number; got {text!r}") from None
    if not 0.0 < v < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number; got {text!r}")
    return v


def _cmd_check(args):
    from .checks import demo_check
    backend.use(args.backend)
    sizes = [int(s) for s in args.sizes.split(",")]
    errors = demo_check(sizes, args.activation, args.batch, args.seed)
    print(f"hand-written passes of MLP({sizes}, {args.activation!r}) against autograd "
          f"(backend {backend.name()}, float64), max relative error:")
    worst = 0.0
    for name, err in errors.items():
        print(f"  {name:<11} {err:.2e}")
        worst = max(worst, err)
    ok = worst < 1e-10
    print("all passes agree with autograd to 1e-10" if ok else "MISMATCH: a pass disagrees with autograd")
    return 0 if ok else 1


def _cmd_demo(args):
    backend.use(args.backend)
    from . import demo
    weights = (0.5, 0.5) if args.equal_weights else (0.2, 0.8)
    demo.run(args.out, seed=args.seed, steps=args.steps, weights=weights, n_samples=args.samples,
             progress=not args.no_progress)
    print(f"figures and metrics.json written to {args.out}/")
    return 0


def _cmd_mnist(args):
    backend.use(args.backend)
    from . import mnist
    model, params, losses, seconds = mnist.train(
        args.out, args.data, args.steps, args.batch_size, args.hidden, args.lr, args.seed,
        args.checkpoint_every, args.resume, progress=not args.no_progress)
    done = len(losses)
    print(f"trained {done} steps; last 100 steps mean loss {sum(losses[-100:]) / len(losses[-100:]):.4f}; "
          f"this run {seconds:.1f}s")
    extra = {"train_seconds_this_run": seconds, "steps": args.steps, "hidden": args.hidden,
             "batch_size": args.batch_size}
    if args.samples:
        mnist.sample_and_evaluate(model, params, args.out, args.data, args.samples, args.seed,
                                  args.steps_each, args.classifier, progress=not args.no_progress, extra=extra,
                                  eps=args.eps, sampler=args.sampler)
    return 0


def _cmd_sample(args):
    backend.use(args.backend)
    from . import mnist
    model, params, config = mnist.load_model(args.checkpoint)
    mnist.sample_and_evaluate(model, params, args.out, args.data, args.samples, args.seed, args.steps_each,
                              args.classifier, progress=not args.no_progress, eps=args.eps, sampler=args.sampler)
    return 0


def _mnist_args(p, train=True):
    p.add_argument("--data", default=None, help="folder of the four MNIST IDX files "
                   "(default: $NPSCORE_MNIST_DIR)")
    p.add_argument("--out", default="mnist_out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=1000, help="images to sample and score (0: none)")
    p.add_argument("--steps-each", type=int, default=100, help="annealed Langevin steps per level")
    p.add_argument("--eps", type=_positive_float, default=2e-5,
                   help="annealed Langevin step scale (NCSN's 2e-5; 1e-5 leaves fewer blank images)")
    # mnist.SAMPLERS, written out: importing npscore.mnist here would load matplotlib for every command
    p.add_argument("--sampler", default="langevin", choices=("langevin", "reverse-sde"),
                   help="annealed Langevin (NCSN, the default) or the reverse-time VE SDE (1000 steps)")
    p.add_argument("--classifier", default=None, help="classifier .npz (trained and saved if missing)")
    p.add_argument("--backend", default="numpy", choices=backend.BACKENDS)
    p.add_argument("--no-progress", action="store_true")
    if train:
        p.add_argument("--steps", type=int, default=25000)
        p.add_argument("--batch-size", type=int, default=128)
        p.add_argument("--hidden", type=int, default=512)
        p.add_argument("--lr", type=float, default=1e-3)
        p.add_argument("--checkpoint-every", type=int, default=1000)
        p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
        p.set_defaults(func=_cmd_mnist)


def build_parser():
    parser = argparse.ArgumentParser(prog="npscore", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="the notes' two-mode 2-D example: train, sample, figures, metrics")
    p.add_argument("--out", default="demo_out", help="folder for figures and metrics.json")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=DEMO_STEPS, help="training steps per model")
    p.add_argument("--samples", type=int, default=2000, help="samples per sampler")
    p.add_argument("--equal-weights", action="store_true", help="weights (1/2, 1/2) instead of (1/5, 4/5)")
    p.add_argument("--backend", default="numpy", choices=backend.BACKENDS)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("mnist", help="train the noise-conditional MLP on MNIST, sample, score")
    _mnist_args(p)
    p = sub.add_parser("train", help="train a model: `npscore train mnist` (same as `npscore mnist`)")
    tsub = p.add_subparsers(dest="dataset", required=True)
    _mnist_args(tsub.add_parser("mnist", help="as `npscore mnist`"))
    p = sub.add_parser("sample", help="sample and score from a saved MNIST checkpoint")
    p.add_argument("--checkpoint", required=True)
    _mnist_args(p, train=False)
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("check", help="check the hand-written MLP passes against autograd")
    p.add_argument("--sizes", default="2,64,64,2", help="layer widths, comma-separated")
    p.add_argument("--activation", default="softplus")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default="numpy", choices=backend.BACKENDS)
    p.set_defaults(func=_cmd_check)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, RuntimeError, FileNotFoundError) as exc:
        print(f"npscore {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
