#!/usr/bin/env bash
# CI step: mlir-bench as a user installs it. Build the sdist and, from it, the wheel; check that the wheel holds
# every package and task spec; install it (not editable) with its dependencies into a fresh virtual environment
# without the system site-packages (so the editable install of the repository cannot be imported); then, from a
# folder outside the repository, import it, list the tasks and run one BM25 task with the installed command.
# Needs $MLIR_BENCH_DATA (XQuAD-R). Takes about a minute when the dependencies come from a local index.
set -euo pipefail
cd "$(dirname "$0")/.."
export MLIR_BENCH_DATA="${MLIR_BENCH_DATA:-$(cd .. && pwd)/shared/data}"
export HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
SECONDS=0
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mlir-bench-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# 1. sdist, then the wheel built from the unpacked sdist (no stale build/ folder can leak into it)
python -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
wheels=("$WORK"/dist/*.whl)
WHEEL="${wheels[0]}"

# 2. its contents: every package under mlir_bench/ (the list in pyproject.toml is explicit), every task spec and
#    the expected scores, and nothing outside mlir_bench/ (no top-level tasks/ or tests/)
python - "$WHEEL" <<'EOF'
import sys
import zipfile
from pathlib import Path

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
want = [f"{d.as_posix()}/__init__.py" for d in sorted(Path("mlir_bench").rglob("*")) if (d / "__init__.py").is_file()]
want += ["mlir_bench/__init__.py", "mlir_bench/task_specs/__init__.py"]
want += [f"mlir_bench/task_specs/{f.name}" for f in sorted(Path("tasks").glob("*.toml"))]
missing = [n for n in want if n not in names]
stray = sorted(n for n in names if not n.startswith(("mlir_bench/", "mlir_bench-")))
if missing or stray or "mlir_bench/task_specs/expected.toml" not in names:
    sys.exit(f"wheel check: missing {missing or 'nothing'}; outside mlir_bench/: {stray or 'nothing'} "
             "(is every package listed under [tool.setuptools] packages in pyproject.toml?)")
print(f"wheel check: {Path(sys.argv[1]).name}: {len(names)} files, every package and task spec present")
EOF

# 3. a fresh environment, the wheel and its dependencies (torch first, pinned: the CPU wheel on disk)
python -m venv "$WORK/venv"
V="$WORK/venv/bin"
{ "$V/python" -m pip install "torch==2.13.0" && "$V/python" -m pip install "$WHEEL"; } >"$WORK/pip.log" 2>&1 \
  || { cat "$WORK/pip.log"; exit 1; }
echo "wheel check: installed into a fresh venv ($(grep -c '^Successfully installed' "$WORK/pip.log") pip steps, ${SECONDS} s so far)"

# 4. outside the repository, with nothing of it on the path
cd "$WORK"
unset PYTHONPATH
export PYTHONNOUSERSITE=1 MLIR_BENCH_CACHE="$WORK/cache"
"$V/python" - "$WORK/venv" <<'EOF'
import sys
from importlib.metadata import entry_points
from pathlib import Path

import mlir_bench
from mlir_bench.results.expected import packaged_expected_scores
from mlir_bench.tasks.registry import list_task_specs, packaged_task_dir

venv = Path(sys.argv[1]).resolve()
print(f"wheel check: mlir_bench imported from {mlir_bench.__file__}")
for what, path in (("mlir_bench", Path(mlir_bench.__file__)), ("task specs", packaged_task_dir()),
                   ("expected scores", packaged_expected_scores())):
    if not path.resolve().is_relative_to(venv):
        sys.exit(f"wheel check: {what} at {path}, not inside the virtual environment {venv}")
assert packaged_expected_scores().is_file()
assert {"xquad-r", "mlqa-r"} <= {s.name for s in list_task_specs()}
assert entry_points(group="mlir_bench.model_prefixes", name="mteb"), "mteb: prefix entry point missing"
EOF
"$V/mlir-bench" list-tasks
"$V/mlir-bench" run -m bm25 -t xquad-r --languages de,en --output-dir "$WORK/results" --runs none --no-progress
ls "$WORK"/results/*.json >/dev/null
echo "wheel check: passed in ${SECONDS} s"
