"""LineChart (app/views/chart.py): what the server keeps and what it sends the page."""

import base64
import math

import panel as pn

from app.views.chart import LineChart


def chart(**kw):
    return LineChart(x="t", lines=[{"column": "y", "label": "y", "color": "#000"}], rollover=5, **kw)


def test_points_roll_over_and_a_new_page_starts_from_the_whole_history():
    c = chart()
    c.append({"t": [1, 2, 3], "y": [0.5, math.nan, math.inf]})
    assert c.columns == {"t": [1.0, 2.0, 3.0], "y": [0.5, None, None]}  # not finite: a gap (JSON null)
    c.append({"t": [4, 5, 6, 7], "y": [1, 2, 3, 4]})
    assert c.total == 7 and c.columns["t"] == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert c.history == {"start": 2, "columns": {"t": [3.0, 4.0, 5.0, 6.0, 7.0], "y": [None, 1.0, 2.0, 3.0, 4.0]}}
    c.clear()
    assert c.total == 0 and c.history == {"start": 0, "columns": {"t": [], "y": []}}


def test_on_a_page_only_new_points_travel_and_a_gap_brings_the_history_again():
    c = chart()
    c.append({"t": [1, 2], "y": [0.1, 0.2]})
    doc = pn.io.document.Document()
    c.get_root(doc)  # now the chart has a model: a page shows it
    sent = []
    c._send_msg = sent.append
    before = dict(c.history)
    c.append({"t": [3], "y": [0.3]})
    assert sent == [{"start": 2, "columns": {"t": [3.0], "y": [0.3]}}]
    assert c.history == before  # not resent whole
    c._handle_msg("resync")  # the page found a gap in what it got
    assert c.history == {"start": 0, "columns": {"t": [1.0, 2.0, 3.0], "y": [0.1, 0.2, 0.3]}}


def test_prediction_grid_sends_new_slots_numbered_and_the_whole_grid_on_request():
    import numpy as np

    from app.views.prediction_grid import PredictionGrid, cell

    picture = np.arange(32 * 32 * 3, dtype=np.uint8).reshape(32, 32, 3)
    c = cell(25, picture, 7, "cat", [("cat", 0.5, True), ("dog", 0.3, False), ("frog", 0.2, False)])
    assert c["slot"] == 25 and "#7" in c["title"] and "cat" in c["title"]
    assert base64.b64decode(c["rgb"]) == picture.tobytes() and (c["w"], c["h"]) == (32, 32)
    assert [b["right"] for b in c["bars"]] == [True, False, False] and c["bars"][0]["text"] == "cat 50%"
    grey = cell(0, picture[..., 0], 1, None, [])  # a grey picture travels as RGB too
    assert base64.b64decode(grey["rgb"]) == np.repeat(picture[..., :1], 3, axis=2).tobytes() and "?" in grey["title"]
    grid = PredictionGrid(slots=24)
    grid.show([c])
    assert grid.cells == {1: c} and grid.history == {"seq": 1, "cells": [c]}  # slot 25 % 24
    grid.get_root(pn.io.document.Document())
    sent = []
    grid._send_msg = sent.append
    d = dict(c, slot=2)
    grid.show([d])
    assert sent == [{"seq": 2, "cells": [d]}] and grid.history == {"seq": 1, "cells": [c]}
    grid._handle_msg("resync")
    assert grid.history == {"seq": 2, "cells": [c, d]}
    grid.clear()
    assert grid.cells == {} and grid.history == {"seq": 3, "cells": []}
