"""A setup in a link (app/core/setup_link.py, app/views/share_link.py): spec, optimizer,
hyperparameters and seed round-trip through `?setup=`; a malformed link gets a message and
leaves the run in progress as it was. Plain pytest on an unthreaded Runner."""

from __future__ import annotations

import base64
import json

import pytest

import engine
from app.core import Runner
from app.core.setup_link import SetupLinkError, apply_setup, decode_setup, encode_setup
from app.state import DashboardState
from app.views.share_link import SetupLink, setup_notice
from datasets import synthetic_dataset

TINY = [
    {"type": "input", "shape": [32, 32, 3]},
    {"type": "conv", "out_channels": 6, "kernel_size": 5, "padding": 2, "activation": "relu"},
    {"type": "pool", "kernel_size": 4},
    {"type": "softmax", "num_classes": 10},
]
OTHER = [
    {"type": "input", "shape": [32, 32, 3]},
    {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": 1, "activation": "tanh"},
    {"type": "pool", "kernel_size": 2},
    {"type": "fc", "out_features": 12, "activation": "relu"},
    {"type": "softmax", "num_classes": 10},
]


@pytest.fixture
def runner():
    return Runner(synthetic_dataset(80, 20, 10), spec=TINY, backend="numpy", batch_size=16, threaded=False)


def b64(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_setup_round_trips_through_a_link_into_the_runner(runner):
    hyper = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.5, "weight_decay": 0.0, "batch_size": 8, "seed": 7}
    link = encode_setup(engine.to_json(engine.normalize(OTHER)), hyper)
    assert set(link) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    spec, settings = decode_setup(link)
    assert settings == hyper and engine.normalize(spec) == engine.normalize(OTHER)
    run_id = runner.snapshot()["run_id"]
    notice = setup_notice(runner, {"setup": [link.encode()]})
    assert notice.alert_type == "success" and notice.visible
    runner._run_commands()  # the queued setup applied, before a step changes the new weights
    seeded = engine.Net(OTHER, backend="numpy", seed=7)  # the link's seed made them
    assert all((runner.net.params()[k] == v).all() for k, v in seeded.params().items())
    runner.tick()
    s = runner.snapshot()
    assert s["run_id"] == run_id + 1 and s["spec"] == engine.to_json(engine.normalize(OTHER))
    assert {k: s["hyper"][k] for k in hyper} == hyper
    # the page's control shows this very setup's link
    state = DashboardState()
    state.sync(s)
    assert decode_setup(SetupLink(state).link.value) == (s["spec"], hyper)


@pytest.mark.parametrize(
    "link, says",
    [
        ("%%%not-base64", "not readable"),
        (b64(b"\xff\xfe not json"), "not readable"),
        (b64(b"[1, 2, 3]"), "no net spec"),
        (b64(json.dumps({"spec": TINY, "colour": "red"}).encode()), "unknown settings: colour"),
        (b64(json.dumps({"spec": [{"type": "conv"}]}).encode()), "cannot be used"),
        (b64(json.dumps({"spec": TINY, "lr": -1}).encode()), "lr must be"),
        (b64(json.dumps({"spec": TINY, "optimizer": ["sgd"]}).encode()), "cannot be used"),
        ("", "empty"),
    ],
)
def test_a_malformed_link_gets_a_message_and_changes_nothing(runner, link, says):
    before = runner.snapshot()
    with pytest.raises(SetupLinkError, match=says):
        apply_setup(runner, link)
    notice = setup_notice(runner, {"setup": [link.encode()]})
    assert notice.alert_type == "danger" and says.split(":")[0] in notice.object and "unchanged" in notice.object
    runner.tick()
    after = runner.snapshot()
    assert after["run_id"] == before["run_id"] and after["hyper"] == before["hyper"] and after["spec"] == before["spec"]
    assert setup_notice(runner, {}) is None


def test_a_link_on_a_revoked_presenter_page_gets_a_message(runner):
    from app.presenter_auth import GuardedRunner

    revoked = type("Lecture", (), {"valid": lambda self, token: False})()
    guarded = GuardedRunner(runner, revoked, "old-token")
    link = encode_setup(runner.snapshot()["spec"], {"lr": 0.5})
    notice = setup_notice(guarded, {"setup": [link.encode()]})
    assert notice.alert_type == "danger" and "revoked" in notice.object and "unchanged" in notice.object
    assert guarded.runs_view()[1] == runner.runs_view()[1]  # reading the runs is no command
