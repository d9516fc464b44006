"""A setup in a link: the net's spec, the optimizer, its hyperparameters and the seed as one
URL parameter, `?setup=` followed by base64url (no padding) of compact JSON:

    {"spec": [layer, ...], "optimizer": "sgd", "lr": 0.01, "momentum": 0.9,
     "weight_decay": 0.0001, "batch_size": 64, "seed": 0}

The backend is left out: it belongs to the machine, not to the setup. A link is checked as
any spec and any setting is (Runner.check_spec, Runner.set_hyper): one that cannot be used
raises ValueError with a message to show, and the run in progress is untouched. No Panel here.
"""

from __future__ import annotations

import base64
import binascii
import json

import engine

SETUP_KEYS = ("optimizer", "lr", "momentum", "weight_decay", "batch_size", "seed")
MAX_LINK_CHARS = 64 * 1024  # far above any preset's spec; a longer parameter is not read at all


class SetupLinkError(ValueError):
    """A link whose setup cannot be used; the message says why."""


def encode_setup(spec, hyper):
    """The `setup` parameter for this spec (layer list) and these settings."""
    doc = {"spec": spec, **{k: hyper[k] for k in SETUP_KEYS if k in hyper}}
    raw = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_setup(text):
    """(spec, settings) from a `setup` parameter; SetupLinkError saying what is wrong with it."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    text = (text or "").strip()
    if not text:
        raise SetupLinkError("the link's setup is empty")
    if len(text) > MAX_LINK_CHARS:
        raise SetupLinkError(
            "the link's setup is %d characters, more than any net needs (%d)" % (len(text), MAX_LINK_CHARS)
        )
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        doc = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError):
        raise SetupLinkError("the link's setup is not readable (cut short when it was copied?)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("spec"), list):
        raise SetupLinkError("the link's setup holds no net spec")
    unknown = sorted(set(doc) - set(SETUP_KEYS) - {"spec"})
    if unknown:
        raise SetupLinkError("the link's setup has unknown settings: %s" % ", ".join(map(str, unknown)))
    return doc["spec"], {k: doc[k] for k in SETUP_KEYS if k in doc}


def apply_setup(runner, text):
    """Make the link's setup the run: checked first, then the settings, then a new net from the
    spec (seeded with the link's seed). Returns the spec's layers; SetupLinkError if unusable."""
    spec, settings = decode_setup(text)
    try:
        layers = runner.check_spec(spec)
        runner.set_hyper(**settings)  # checks every value before it changes any
    except (engine.SpecError, ValueError, TypeError) as e:
        raise SetupLinkError("the link's setup cannot be used: %s" % e) from None
    runner.apply_spec(engine.to_json(layers))
    return layers
