#!/usr/bin/env bash
# Mutation score of npscore's mathematical modules (mutmut 3; the dev extra).
# A benchmark, not part of CI: the whole set takes over 2.5 hours on 2 cores (nn, densities and
# sampling alone about 2 hours); pass modules to run a part.
#   pip install -e ".[dev]" && bash benchmarks/mutation.sh [MODULE_GLOB ...]
# With arguments, only those modules (e.g. npscore/sde.py) are mutated, and the results go to
# benchmarks/results/mutation_results_<module names>.txt (all modules: mutation_results.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${NPSCORE_MNIST_DIR:=$(cd .. && pwd)/shared/data/mnist}"   # mutmut runs the tests from mutants/
export NPSCORE_MNIST_DIR
rm -rf mutants                                                  # a stale mutants/ loses the test map
results=benchmarks/results/mutation_results.txt
if [ "$#" -gt 0 ]; then
  names=$(for m in "$@"; do basename "$m" .py; done | paste -sd_)
  results=benchmarks/results/mutation_results_${names}.txt
  globs=$(printf '"%s", ' "$@")
  sed -i.bak "s|^only_mutate = .*|only_mutate = [${globs%, }]|" pyproject.toml
  trap 'mv pyproject.toml.bak pyproject.toml' EXIT
fi
mutmut run --max-children 2 || true
mutmut results --all true > "$results" || true
echo "results: $results"
python3 - "$results" <<'PY'
import collections, re, sys
counts = collections.defaultdict(collections.Counter)
for line in open(sys.argv[1]):
    m = re.match(r"\s*(npscore[\w.]*?)\.(x[_\w]+?)__mutmut_\d+: (\w[\w ]*)", line)
    if m:
        counts[m.group(1)][m.group(3).strip()] += 1
print(f"{'module':<28}{'made':>6}{'killed':>8}{'survived':>10}{'score':>8}")
for mod, c in sorted(counts.items()):
    made = sum(c.values()); killed = c["killed"] + c["timeout"]
    print(f"{mod:<28}{made:>6}{killed:>8}{c['survived']:>10}{killed / made:>8.0%}")
PY
