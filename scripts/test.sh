#!/usr/bin/env bash
# The test command of README.md, also what CI runs: installs what the tests need, then runs them.
#   - Python torch + transformers (+ safetensors, numpy): the parity and round-trip tests check
#     distill against transformers and that transformers loads what distill saves; seqeval: the
#     entity-level NER scores are checked against it; scikit-learn + scipy: the classification and
#     regression metrics;
#   - Chromium (Debian package, where apt-get can install it): the report test renders the page
#     and checks the screenshot; without it that one check is skipped, with a note;
#   - Mesa's lavapipe (a Vulkan driver that runs on the CPU; Debian's mesa-vulkan-drivers, from
#     bookworm-backports on bookworm, whose own Mesa 22.3 crashes compiling cubecl's kernels): the
#     CLI's tests/vulkan.rs runs the Vulkan backend on it; without a Vulkan device those tests
#     are skipped, with a note (DISTILL_REQUIRE_VULKAN=1, as CI sets, makes that a failure).
# Extra arguments go to cargo test (e.g. `scripts/test.sh --test report`).
set -euo pipefail
cd "$(dirname "$0")/.."

# pip is a no-op when they are present already.
python3 -m pip install --quiet --disable-pip-version-check torch transformers safetensors numpy seqeval scikit-learn scipy

if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --quiet --no-install-recommends chromium >/dev/null \
    || echo "note: chromium could not be installed; the report's rendering check will be skipped" >&2
fi

# Mesa 25 or later: the first version whose lavapipe was found to run cubecl's kernels.
mesa_major=$(dpkg-query -W -f '${Version}' mesa-vulkan-drivers 2>/dev/null | sed 's/^[0-9]*://; s/[.].*//' || true)
if [ "${mesa_major:-0}" -lt 25 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    {
      suite=""
      if grep -q '^VERSION_CODENAME=bookworm$' /etc/os-release; then
        suite="-t bookworm-backports"
        [ -e /etc/apt/sources.list.d/bookworm-backports.sources ] || printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' \
          'Suites: bookworm-backports' 'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
          > /etc/apt/sources.list.d/bookworm-backports.sources
        apt-get update --quiet >/dev/null
      fi
      # shellcheck disable=SC2086 # $suite is empty or two words
      DEBIAN_FRONTEND=noninteractive apt-get install -y --quiet --no-install-recommends $suite mesa-vulkan-drivers libvulkan1 >/dev/null
    } || echo "note: Mesa's lavapipe could not be installed; the Vulkan tests will be skipped" >&2
  fi
fi

cargo test --workspace "$@"

# The Vulkan backend, on lavapipe where no GPU is (cli/tests/vulkan.rs: parity fixtures, losses
# against the CPU backend, a checkpoint moved between them, mixed precision). Only the binary and
# this test are built with the feature: every test binary with the GPU stack linked in would take
# about 20 GB more disk.
if [ $# -eq 0 ]; then
  cargo test -p distill-cli --features vulkan --test vulkan
fi
