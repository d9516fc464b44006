"""What the browser tests share: Debian's Chromium and the flags it needs on this closed network.

Chromium comes from Debian (`apt-get install chromium`, done by ./setup.sh --test); Playwright
drives it with executable_path and never downloads a browser of its own. A missing Chromium
fails the tests rather than skipping them, so a broken setup cannot pass unnoticed.
"""

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, refused here.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail("no Chromium at %s — run ./setup.sh --test (it installs Debian's chromium)" % CHROMIUM)
