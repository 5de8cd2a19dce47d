#!/usr/bin/env bash
# Install everything the tests need and run the WHOLE suite (fast + slow + browser), then ruff.
# This is what CI runs (.ci/run calls exactly this script).
#
#   scripts/test.sh [extra pytest args]
#
# Steps: ./install.sh; pip install -r requirements-test.txt; apt-get install chromium (always,
# even when present, so CI gets the distribution's current build); npm install axe-core into
# .test-tools/; pytest; ruff check.
set -euo pipefail

cd "$(dirname "$0")/.."

say() { echo "==> test.sh: $*"; }

say "installing the app (./install.sh)"
./install.sh

say "installing test tools (requirements-test.txt)"
.venv/bin/python -m pip --disable-pip-version-check install --quiet -r requirements-test.txt

# Browser tests drive Debian's chromium (never `playwright install`: it downloads from outside).
if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi
# The emoji font only makes screenshots (the README's included) show the page icons.
say "installing chromium and an emoji font with apt-get (browser tests use /usr/bin/chromium)"
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-noto-color-emoji
if [ ! -x /usr/bin/chromium ]; then
    echo "test.sh: /usr/bin/chromium is missing after apt-get install chromium." >&2
    exit 1
fi

# axe-core (MPL-2.0) for the accessibility browser tests, from the npm registry into the
# git-ignored .test-tools/ (tests/browser/test_accessibility.py injects it into the page).
AXE_VERSION=4.11.0  # keep equal to tests/browser/test_accessibility.py
say "installing axe-core@${AXE_VERSION} with npm into .test-tools/"
if ! command -v npm >/dev/null; then
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y npm
fi
npm install --no-audit --no-fund --no-save --prefix .test-tools "axe-core@${AXE_VERSION}"

# No -m filter: fast, slow (embedded model) and browser tests all run. pytest exits 5 when it
# collects nothing; the suite is never empty, so any non-zero status is a failure.
say "running the whole test suite (pytest: fast + slow + browser)"
.venv/bin/python -m pytest "$@"

say "checking style (ruff check)"
.venv/bin/ruff check .

say "all tests and checks passed"
