#!/usr/bin/env bash
# Sets up ConvNet Playground in its own environment (.venv), so that the project's `engine`
# and `datasets` packages are the ones imported (Hugging Face's package is also `datasets`).
#   ./setup.sh          runtime: numpy, numba, panel, bokeh, pillow, pooch
#   ./setup.sh --test   also the test tools: pytest, playwright (Python), torch (test-only
#                       reference), Debian's chromium and libgomp1 (Numba's OpenMP thread pool,
#                       which the kernel tests require; without it the engine uses its own
#                       threads), and the npm packages for the peer and in-browser tests
#                       (convnetjs, @pyodide/pyodide 0.17.1, pyodide 314: the core only)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "${1:-}" = "--test" ]; then
    .venv/bin/python -m pip install -q -e '.[test]'
    missing=""
    [ -x /usr/bin/chromium ] || missing="chromium fonts-dejavu-core"
    ldconfig -p | grep -q 'libgomp\.so\.1' || missing="$missing libgomp1"
    if [ -n "$missing" ]; then
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
        $SUDO apt-get update -qq
        # shellcheck disable=SC2086  # a list of package names
        $SUDO apt-get install -y -qq $missing >/dev/null
    fi
    npm install --no-audit --no-fund --loglevel=error
else
    .venv/bin/python -m pip install -q -e .
fi
