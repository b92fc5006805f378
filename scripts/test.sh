#!/usr/bin/env bash
# The test command of README.md, also what CI runs: installs what the tests need, then runs them.
#   - Python torch + transformers (+ safetensors, numpy): the parity and round-trip tests check
#     distill against transformers and that transformers loads what distill saves; seqeval: the
#     entity-level NER scores are checked against it; scikit-learn + scipy: the classification and
#     regression metrics;
#   - Chromium (Debian package, where apt-get can install it): the report test renders the page
#     and checks the screenshot; without it that one check is skipped, with a note.
# Extra arguments go to cargo test (e.g. `scripts/test.sh --test report`).
set -euo pipefail
cd "$(dirname "$0")/.."

# pip is a no-op when they are present already.
python3 -m pip install --quiet --disable-pip-version-check torch transformers safetensors numpy seqeval scikit-learn scipy

if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --quiet --no-install-recommends chromium >/dev/null \
    || echo "note: chromium could not be installed; the report's rendering check will be skipped" >&2
fi

cargo test --workspace "$@"
