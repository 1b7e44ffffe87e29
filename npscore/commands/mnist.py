"""``npscore mnist`` and ``npscore sample`` end to end: load the data, train
(:mod:`npscore.commands.mnist_train`), sample (:mod:`npscore.mnist.sample`), score
(:mod:`npscore.mnist.metrics`), write the results.

Everything runs on the active backend: ``--backend cupy`` changes nothing else.
"""
import os
import time

from .. import backend, io, plotting
from ..mnist import classifier
from ..mnist.idx import load_mnist
from ..mnist.metrics import blank, evaluate_samples, isolated, speckle  # noqa: F401  (the run's API)
from ..mnist.sample import SAMPLERS, SDE_STEPS, langevin_step, sample  # noqa: F401
from .mnist_config import MNIST_PRESETS, mnist_folder
from .mnist_train import (RUN_FILES, SAMPLE_FILES, check_start, checkpoint_path, load_model,  # noqa: F401
                          noise_levels, train)
from .runfolder import RunFolder, pause_point

#: the presets of ``npscore mnist --preset`` (their one home: :data:`npscore.commands.mnist_config.MNIST_PRESETS`)
PRESETS = MNIST_PRESETS


def load_data(data_dir=None, test=True):
    """``{"x_train", "y_train", "x_test", "y_test"}`` (the test split only with ``test``),
    every file checked before any work."""
    data_dir = mnist_folder(data_dir)
    data = dict(zip(("x_train", "y_train"), load_mnist(data_dir, "train")))
    if test:
        data.update(zip(("x_test", "y_test"), load_mnist(data_dir, "test")))
    return data


def get_classifier(path, data, progress=True, log=print):
    """The classifier at ``path`` (checked now), or one trained on ``data`` and saved there first."""
    return classifier.load_or_train(path, data["x_train"], data["y_train"], progress=progress, log=log)


def sample_and_evaluate(model, params, sigmas, out, data, clf, n=1000, seed=0, sampler="reverse-sde",
                        n_steps_each=10, step_scale=None, log=print, extra=None, progress=False, folder=None,
                        force=False, sde_steps=SDE_STEPS):
    """Sample ``n`` images; publish ``samples.npz``, ``samples.png`` and ``metrics.json`` into the run
    folder ``out`` (the caller's open ``folder`` where given; else one opened here, whose earlier
    samples are replaced only with ``force``), keeping its other files; print the metrics."""
    if folder is None:
        with RunFolder(out, SAMPLE_FILES, force=force, command="npscore sample") as folder:
            return sample_and_evaluate(model, params, sigmas, out, data, clf, n, seed, sampler, n_steps_each,
                                       step_scale, log, extra, progress, folder, sde_steps=sde_steps)
    t = time.time()
    pause_point("sampling")
    raw = sample(model, params, sigmas, n, seed, sampler, n_steps_each, step_scale, progress, sde_steps)
    backend.synchronize()
    seconds = time.time() - t
    x = backend.xp().clip(raw, 0.0, 1.0)
    metrics = evaluate_samples(clf, raw, data["x_test"], data["x_train"], seed)
    metrics.update({"classifier_test_accuracy": clf.accuracy(data["x_test"], data["y_test"]), "n_samples": n,
                    "sample_seconds": seconds, "backend": backend.name(), "sampler": sampler,
                    "step_scale": langevin_step(sigmas, n_steps_each, step_scale) if sampler == "annealed-langevin"
                    else None, "n_steps_each": n_steps_each, "n_levels": len(sigmas), "sde_steps": sde_steps,
                    "model_repr": repr(model),
                    **(extra or {})})

    def write(d):
        io.atomic_savez(os.path.join(d, "samples.npz"), {"images": backend.to_numpy(x)})
        plotting.image_grid(os.path.join(d, "samples.png"), x[:100], title=f"npscore: {type(model).__name__}, {sampler}")
        io.atomic_write_json(os.path.join(d, "metrics.json"), metrics)
    folder.publish(write, keep=True)
    log(f"{'':<24}{'classifier-FID':>15}{'IS analogue':>13}{'top prob':>10}{'speckle':>9}{'blank':>7}  min class")
    for key in ("model", "model unclipped", "mnist_test (floor)", "gaussian_fit (baseline)", "gaussian_fit clipped"):
        m = metrics[key]
        log(f"{key:<24}{m['classifier_fid']:15.2f}{m['inception_score']:13.2f}{m['mean_top_prob']:10.3f}"
            f"{m['speckle']:9.4f}{m['blank']:7.3f}  {min(m['label_fractions']):.3f}")
    log("model label fractions: " + " ".join(f"{v:.3f}" for v in metrics["model"]["label_fractions"]))
    log(f"sampling {n} images took {seconds:.1f}s; grid: {os.path.join(out, 'samples.png')}")
    return metrics
