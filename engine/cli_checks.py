"""Checks of `python -m engine` arguments, all made before any data loads or any net is built.

A user mistake ends in one line `error: ...` and exit status 2 (docs/ARCHITECTURE.md,
"Contracts"), so argparse's own complaints (usage block, then `prog: error: ...`) are cut to
that one line too, and every number is checked for what it means, not only for its type:
`--lr nan` parses as a float and would otherwise train a net of NaNs for an hour.

    ArgumentParser          argparse with one-line errors (subparsers inherit it)
    positive(int|float)     > 0 and finite
    non_negative(float)     >= 0 and finite (weight decay)
    fraction                0 <= x < 1 (momentum: at 1 or above the velocity never decays)
    seed                    an integer NumPy's RandomState accepts
    check_args(args)        what needs more than one flag or the file system
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from .errors import UserError

SEED_LIMIT = 2**32  # numpy.random.RandomState takes seeds in [0, 2**32)


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are the contract's one line and exit status 2."""

    def error(self, message):
        self.exit(2, "error: %s (see %s --help)\n" % (message, self.prog))


def _number(kind, text):
    try:
        v = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected %s, got %r" % ("an integer" if kind is int else "a number", text)
        ) from None
    if kind is float and not math.isfinite(v):
        raise argparse.ArgumentTypeError("must be a finite number, got %r" % text)
    return v


def positive(kind):
    def parse(text):
        v = _number(kind, text)
        if v <= 0:
            raise argparse.ArgumentTypeError("must be > 0, got %r" % text)
        return v

    parse.__name__ = "positive %s" % kind.__name__
    return parse


def non_negative(text):
    v = _number(float, text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0, got %r" % text)
    return v


def fraction(text):
    v = _number(float, text)
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError("must be in [0, 1) (0.9 is usual), got %r" % text)
    return v


def seed(text):
    v = _number(int, text)
    if not 0 <= v < SEED_LIMIT:
        raise argparse.ArgumentTypeError("must be an integer from 0 to %d, got %r" % (SEED_LIMIT - 1, text))
    return v


def image_size(text):
    """The side S of the SxS images a run trains on."""
    v = _number(int, text)
    if not 16 <= v <= 128:
        raise argparse.ArgumentTypeError("must be from 16 to 128, got %r" % text)
    return v


def _check_save(path):
    """The snapshot's folder must exist and take a file: found now, not after an hour of training."""
    p = Path(path)
    if p.is_dir():
        raise UserError("--save %s is a folder; give a file name such as %s" % (path, p / "net.npz"))
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise UserError("--save %s: the folder %s does not exist" % (path, folder))
    if not os.access(folder, os.W_OK):
        raise UserError("--save %s: the folder %s is not writable" % (path, folder))


def _check_data(path):
    if path is not None and not Path(path).exists():
        raise UserError("--data %s: no such file or folder" % path)


def check_args(args):
    """What argparse's types cannot see alone; raises UserError before anything loads."""
    command = getattr(args, "command", None)
    if command == "train":
        _check_data(args.data)
        if args.save:
            _check_save(args.save)
    elif command == "eval":
        if not Path(args.snapshot).is_file():
            raise UserError("cannot read snapshot %s: no such file" % args.snapshot)
        _check_data(args.data)
    elif command == "bench":
        seconds = getattr(args, "seconds", 1.0)
        if not (math.isfinite(seconds) and seconds > 0):
            raise UserError("--seconds must be a finite number > 0, got %r" % seconds)
