"""Fuzzing what users hand the engine: snapshots (ours and ConvNetJS's) and net specs.

Whatever the bytes or the JSON, the snapshot loader raises only SnapshotError and the spec
parser only SpecError (the errors a user reads: engine/errors.py), and neither allocates
more than a small multiple of what it was given (tracemalloc sees NumPy's allocations too).
Hypothesis runs derandomized, without its example database, with bounded example counts,
so the file takes seconds and fails the same way every time.
"""

from __future__ import annotations

import json
import tracemalloc

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_snapshot import trained

from engine import SnapshotError, SpecError, normalize, read_snapshot, snapshot_bytes, summarize
from engine.convnetjs import convnetjs_to_snapshot

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# What a call may allocate beyond its input, and per input byte: room for the arrays a file
# really holds (as float64 on the way in) and the interpreter's own bookkeeping, far below
# what a forged shape or count would ask for.
SLACK_BYTES = 8 << 20
PER_INPUT_BYTE = 64


def only(errors, fn, *args):
    """fn(*args), allowing only `errors`; returns the peak bytes it allocated."""
    tracemalloc.start()
    try:
        fn(*args)
    except errors:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def bounded(peak, given):
    assert peak <= SLACK_BYTES + PER_INPUT_BYTE * given, (peak, given)


def load_and_build(data):
    read_snapshot(data).build()


@pytest.fixture(scope="module")
def good():
    net, opt = trained("adam")
    return snapshot_bytes(net, opt, classes=["cat", "dog", "bird"])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(data=st.binary(max_size=512))
def test_random_bytes(data):
    bounded(only(SnapshotError, load_and_build, data), len(data))
    bounded(only(SnapshotError, load_and_build, b"PK\x03\x04" + data), len(data))


@FUZZ
@given(cut=st.integers(min_value=0), flips=st.lists(st.tuples(st.integers(0), st.integers(1, 255)), max_size=4))
def test_truncated_and_damaged_snapshots(good, cut, flips):
    data = bytearray(good[: cut % (len(good) + 1)])
    for at, bits in flips:
        if data:
            data[at % len(data)] ^= bits
    bounded(only(SnapshotError, load_and_build, bytes(data)), len(good))


# Mutations of a valid document reach the checks deep inside (a conv with every field but
# one sane); random JSON alone rarely gets past the first. Each mutation sets a field of a
# layer to any value, or deletes it.
_INT = st.integers(min_value=-3, max_value=6) | st.sampled_from([0, 2**31, 10**12, -(10**9)])
_FIELD = st.one_of(_INT, st.floats(), st.none(), st.text(max_size=4), st.lists(_INT, max_size=4), json_values)
DELETE = object()


def convnetjs_doc():
    """A valid toJSON() of a 4x4x3 net: conv 3x3 (2 filters), relu, pool, fc 3, softmax."""

    def vol(n):
        return {"sx": 1, "sy": 1, "depth": n, "w": {str(i): 0.01 * i for i in range(n)}}

    return {
        "layers": [
            {"layer_type": "input", "out_sx": 4, "out_sy": 4, "out_depth": 3},
            {
                "layer_type": "conv",
                "sx": 3,
                "sy": 3,
                "stride": 1,
                "pad": 1,
                "in_depth": 3,
                "out_depth": 2,
                "out_sx": 4,
                "out_sy": 4,
                "filters": [vol(27), vol(27)],
                "biases": vol(2),
            },
            {"layer_type": "relu", "out_sx": 4, "out_sy": 4, "out_depth": 2},
            {"layer_type": "pool", "sx": 2, "stride": 2, "pad": 0, "out_sx": 2, "out_sy": 2, "out_depth": 2},
            {"layer_type": "dropout", "drop_prob": 0.5, "out_sx": 2, "out_sy": 2, "out_depth": 2},
            {"layer_type": "fc", "num_inputs": 8, "out_depth": 3, "filters": [vol(8)] * 3, "biases": vol(3)},
            {"layer_type": "softmax", "num_inputs": 3, "out_depth": 3},
        ]
    }


def mutated(doc, edits):
    for i, key, value in edits:
        layer = doc["layers"][i % len(doc["layers"])] if "layers" in doc else doc[i % len(doc)]
        keys = sorted(layer) + ["layer_type", "type"]
        key = keys[key % len(keys)]
        if value is DELETE:
            layer.pop(key, None)
        else:
            layer[key] = value
    return doc


edits = st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20), _FIELD | st.just(DELETE)), min_size=1, max_size=3)


def test_the_valid_documents_load():
    convnetjs_to_snapshot(json.dumps(convnetjs_doc())).build()
    summarize(normalize(json.dumps(spec_doc())))


@FUZZ
@given(edits=edits, cut=st.none() | st.integers(0))
@example(edits=[(0, 0, [])], cut=None)  # a layer_type that is a list (was a TypeError)
@example(edits=[(18, 0, "")], cut=None)  # drop_prob "" (was a ValueError from float())
def test_convnetjs_json(edits, cut):
    text = json.dumps(mutated(convnetjs_doc(), edits)).encode()
    if cut is not None:
        text = text[: cut % (len(text) + 1)]
    bounded(only(SnapshotError, lambda: convnetjs_to_snapshot(text).build()), len(text))
    bounded(only(SnapshotError, load_and_build, b" " + text), len(text))


@FUZZ
@given(doc=json_values)
def test_convnetjs_random_json(doc):
    text = json.dumps(doc).encode()
    bounded(only(SnapshotError, lambda: convnetjs_to_snapshot(text).build()), len(text))


def spec_doc():
    return [
        {"type": "input", "shape": [8, 8, 3]},
        {"type": "conv", "out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 1, "activation": "relu"},
        {"type": "pool", "kernel_size": 2, "stride": 2},
        {"type": "fc", "out_features": 6, "activation": "tanh"},
        {"type": "dropout", "p": 0.1},
        {"type": "softmax", "num_classes": 3},
    ]


def parse_and_summarize(text):
    summarize(normalize(text))


@FUZZ
@given(edits=edits, cut=st.none() | st.integers(0))
@example(edits=[(1, 1, float("inf"))], cut=None)  # an infinite size (was an OverflowError)
def test_spec_parser_on_edited_specs(edits, cut):
    text = json.dumps(mutated(spec_doc(), edits))
    if cut is not None:
        text = text[: cut % (len(text) + 1)]
    bounded(only(SpecError, parse_and_summarize, text), len(text))


@FUZZ
@given(spec=json_values)
def test_spec_parser_on_random_json(spec):
    text = json.dumps(spec)
    bounded(only(SpecError, parse_and_summarize, text), len(text))
