"""The README's two commands, CI's use of them, and the example scripts' quick modes."""
import os
import pathlib
import re
import subprocess
import sys


ROOT = pathlib.Path(__file__).resolve().parents[1]


def quick_start_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, re.S)


def test_readme_has_exactly_two_quick_start_commands():
    cmds = quick_start_commands()
    assert len(cmds) == 2
    assert "npscore demo" in cmds[0] and "pip install" in cmds[0]
    assert "pytest" in cmds[1] and '".[test]"' in cmds[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text()
    snippet = ci.split("<<'PY'\n", 1)[1].split("\nPY", 1)[0]
    out = subprocess.run([sys.executable, "-c", snippet], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == quick_start_commands()[1]
    assert 'bash -c "$cmd"' in ci and "set -euo pipefail" in ci


def _run_example(name, tmp_path, env=None):
    """The example's quick mode from ``tmp_path``, on this checkout's npscore whether installed or not."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, str(ROOT / "examples" / name), "--quick"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": path, **(env or {})})


def test_langevin_weights_example(tmp_path):
    r = _run_example("langevin_weights.py", tmp_path)
    assert r.returncode == 0, r.stderr
    fr = {line.split("[")[0].strip(): [float(v) for v in line.split("[")[1].rstrip("]").split(",")]
          for line in r.stdout.splitlines() if "[" in line}
    assert abs(fr["plain Langevin"][0] - 0.8) > 0.15          # plain Langevin misses the weights
    assert abs(fr["annealed Langevin"][0] - 0.8) < 0.05       # annealed recovers them (1280 samples)


def test_own_data_example(tmp_path):
    r = _run_example("own_data.py", tmp_path)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines() if line.split()[-1:] in (["ok"], ["MISS"])]
    assert [row[0] for row in rows] == ["annealed-langevin", "reverse-sde", "predictor-corrector", "probability-flow"]
    assert len(rows) == 4 and (tmp_path / "own_data_out" / "samples.png").stat().st_size > 1000
