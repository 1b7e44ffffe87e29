"""The notes' worked example (npscore/demo.py): a smoke run."""
import json
import os

import numpy as np

from npscore import demo


def test_demo_smoke(tmp_path):
    m = demo.run(str(tmp_path), steps=300, n_samples=500, progress=False, log=lambda *a: None)
    files = sorted(os.listdir(tmp_path))
    assert files == [".npscore-run.json", "annealed_langevin.png", "checkpoint.npz", "density.png", "loss.png", "metrics.json",
                     "samples.npz", "samples.png", "score_field.png"]
    saved = json.load(open(tmp_path / "metrics.json"))
    assert set(saved["samplers"]) == {"annealed-langevin", "langevin", "langevin, exact score"}
    assert saved["schedule"]["sigmas"] == list(demo.NOTES_SIGMAS) and saved["schedule"]["step_scale"] == 2e-5
    assert saved["energy_floor"]["mean"] > 0
    for name, r in m["samplers"].items():
        if name != "langevin":                      # plain Langevin on a 300-step model may diverge (a row says so)
            assert abs(sum(r["mode_fractions"]) - 1) < 1e-6 and np.isfinite(r["energy_distance"])
            assert 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1
    assert m["score_error_relative"]["0.75"] < 0.5   # even 300 steps learn the coarse field
