"""The app's core: everything both front ends stand on, and nothing that draws.

The server's views (app/views, app/teaching, app/dashboard.py) and the static site's worker
(static/cp_worker.py, in Pyodide) both import it, so it must never import Panel, Bokeh or Numba,
not even inside a function: the worker runs it where none of them exists. It imports only the
standard library, NumPy, `engine` and `datasets` (Numba is the engine's business: the Runner
asks engine.available_backends() which backends run here). tests/test_core_imports.py holds it
to that, and build.py refuses to ship anything that imports them.

    from app.core import Runner
    runner = Runner(dataset, backend="numpy", threaded=False)  # or threaded: start_thread()
    event = runner.tick()                                       # one step's event, or None
    cols, last = runner.history_since(-1)                       # what the views poll
    rows = runner.batches.last_rows                             # the rows the last batch held

The public API:
    Runner                        the one training thread of a process and its commands
                                  (runner.py; runner_net.py, runner_stats.py, runner_reads.py)
    RunnerReadsMixin              its reading side, shared with app/relay.py's MirrorRunner
    IndexedBatches                the Runner's batch source: datasets.Batches that names its rows
    History, PredictionLog        the bounded curves and test predictions the views poll
    probe, weight_grads           one example's activations, gradients and filters (probe.py)
    paths                         the pretrained snapshot, default backend, class names, checks
    plot_data                     the pictures as arrays: network mosaics, the prediction grid
    fragments                     HTML fragments: stat cards, the layer table, top-3 bars, CSS
    casestudies, convarith, evaluation, health, saliency, teaching_fragments
                                  the teaching views' numbers and HTML
    exports, autosave             the Export menu's files and the run's autosave: imported by
                                  the server only (`from app.core import autosave`), so the
                                  static site does not ship them
"""

from . import (
    casestudies,
    convarith,
    evaluation,
    fragments,
    health,
    paths,
    plot_data,
    saliency,
    teaching_fragments,
)
from .history import CURVE_COLUMNS, History, PredictionLog
from .probe import probe, weight_grads
from .runner import Runner
from .runner_net import IndexedBatches
from .runner_reads import RunnerReadsMixin

__all__ = [
    "Runner",
    "RunnerReadsMixin",
    "IndexedBatches",
    "History",
    "PredictionLog",
    "CURVE_COLUMNS",
    "probe",
    "weight_grads",
    "paths",
    "plot_data",
    "fragments",
    "casestudies",
    "convarith",
    "evaluation",
    "health",
    "saliency",
    "teaching_fragments",
]
