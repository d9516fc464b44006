"""One pn.viewable.Viewer per thing on screen; dashboard.py assembles them."""

from .controls import Controls
from .curves import Curves
from .editor import NetworkEditor
from .layers import LayerTable
from .predictions import Predictions
from .snapshots import Snapshots
from .stats import Stats
from .upload import Upload
from .visualisation import Visualisation

__all__ = [
    "Controls",
    "Curves",
    "LayerTable",
    "NetworkEditor",
    "Predictions",
    "Snapshots",
    "Stats",
    "Upload",
    "Visualisation",
]
