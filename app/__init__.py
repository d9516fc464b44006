"""ConvNet Playground's live dashboard: a Panel server app on top of engine and datasets.

    python -m app [--data PATH] [--port 5006] [--show]

Public API: Runner (the one training thread of a process and its commands), DashboardState
(a session's param state), Dashboard / create_app (the page), and the plain figure and markup
functions the static build reuses (app.figures, app.markup; neither imports Panel).
Importing `app` does not import Panel; app.dashboard and app.views do.
"""

from .runner import Runner
from .state import DashboardState

__all__ = ["Runner", "DashboardState", "create_app", "Dashboard"]


def __getattr__(name):
    # The page pulls in Panel; load it only when asked for.
    if name in ("create_app", "Dashboard"):
        from . import dashboard

        return getattr(dashboard, name)
    raise AttributeError(name)
