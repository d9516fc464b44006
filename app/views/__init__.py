"""One pn.viewable.Viewer per thing on screen; dashboard.py assembles them."""

from .controls import Controls
from .curves import Curves
from .editor import NetworkEditor
from .layer_table import LayerTable
from .predictions import PredictionsView
from .snapshots import Snapshots
from .stats import Stats
from .upload import Upload
from .visualisation import Visualisation

__all__ = [
    "Controls",
    "Curves",
    "LayerTable",
    "NetworkEditor",
    "PredictionsView",
    "Snapshots",
    "Stats",
    "Upload",
    "Visualisation",
]
