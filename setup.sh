#!/usr/bin/env bash
# Sets up ConvNet Playground in its own environment (.venv), so that the project's `engine`
# and `datasets` packages are the ones imported (Hugging Face's package is also `datasets`).
#   ./setup.sh          runtime: numpy, numba, panel, bokeh, pillow, pooch
#   ./setup.sh --test   also the test tools: pytest, playwright (Python), torch (test-only
#                       reference), Debian's chromium, and the npm packages for the peer and
#                       in-browser tests (convnetjs, @pyodide/pyodide 0.17.1)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "${1:-}" = "--test" ]; then
    .venv/bin/python -m pip install -q -e '.[test]'
    if [ ! -x /usr/bin/chromium ]; then
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
    fi
    npm install --no-audit --no-fund --loglevel=error
else
    .venv/bin/python -m pip install -q -e .
fi
