"""`python -m engine summary | train | bench | eval`: the engine's command line.

The contracts (flags and JSON fields) are docs/ARCHITECTURE.md's ("Contracts"); other tools
read them, so they stay stable. A user mistake ends in one line on stderr and exit status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .errors import SnapshotError, SpecError, UserError
from .fit import check_classes, fit_spec
from .net import Net
from .optim import DEFAULTS, Optimizer
from .presets import PRESETS, get_preset
from .snapshot import read_snapshot, save_snapshot
from .spec import load_spec, normalize
from .summary import format_table, summarize
from .train import Trainer

# The defaults of `train`: ConvNetJS's CIFAR-10 net, 22 epochs of Adam with linear decay, flips
# and 2-pixel shifts: enough epochs to clear 73% test accuracy (above ConvNetJS's own trained
# snapshot) in under 10 minutes on 2 cores (docs/BENCHMARKS.md, "Training defaults").
TRAIN_DEFAULTS = {"net": "convnetjs-cifar10", "epochs": 22, "batch": 32, "optimizer": "adam", "lr": 0.002}


def import_datasets():
    """The project's own `datasets` package, or a clear error if another one shadows it.

    Hugging Face's package is also called `datasets`; the README's setup makes the project
    its own environment, and this check says so when that was skipped.
    """
    ours = Path(__file__).resolve().parents[1] / "datasets"
    try:
        import datasets
    except ImportError as e:
        raise UserError(
            "cannot import the project's datasets package (%s); run from the project folder "
            "or install it with `pip install -e .`" % e
        ) from None
    where = Path(getattr(datasets, "__file__", "") or "").resolve().parent
    if where != ours:
        raise UserError(
            "the `datasets` package imported from %s is not ConvNet Playground's (%s) — it is "
            "probably Hugging Face's; use the project's own environment (see README)" % (where, ours)
        )
    return datasets


def _spec_from(name):
    if name in PRESETS:
        return get_preset(name)
    if not Path(name).exists():
        raise UserError("unknown net %r: give a preset (%s) or a spec file" % (name, ", ".join(sorted(PRESETS))))
    return load_spec(name)


def _parse_input(text):
    try:
        h, w, c = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError("--input must look like 224x224x3 (height x width x channels), got %r" % text) from None
    return [h, w, c]


def cmd_summary(args):
    spec = _spec_from(args.net)
    if args.input:
        spec = [dict(layer) for layer in spec]
        first = {"type": "input", "shape": _parse_input(args.input)}
        if "name" in spec[0]:
            first["name"] = spec[0]["name"]
        spec[0] = first
    result = summarize(spec, batch=args.batch, optimizer=args.optimizer, net_name=args.net)
    if args.json:
        print(json.dumps(result))
    else:
        print(format_table(result))


def _load_data(path, image_size=32):
    datasets = import_datasets()
    try:
        ds = datasets.load_dataset(path, image_size=image_size)
    except datasets.DataError as e:
        raise UserError(str(e)) from None
    return datasets, ds


def _say_data(ds, args):
    """Which data, how many classes, whether the test set was held out of train/ (not with
    --json: stdout is then JSON only; and only once the checks passed: an error is one line)."""
    if not args.json:
        print("data: %s" % ds.source, flush=True)


def cmd_train(args):
    datasets, ds = _load_data(args.data, args.image_size)
    spec = _spec_from(args.net)
    if args.net in PRESETS:
        # A preset is sized to the data (docs/ARCHITECTURE.md, "Data layout"); a spec file
        # says what the user means, so it is checked instead, below.
        spec = fit_spec(spec, len(ds.classes), ds.train_x.shape[1:])
    else:
        check_classes("the net %s" % args.net, normalize(spec)[-1]["num_classes"], len(ds.classes))
    net = Net(spec, backend=args.backend, seed=args.seed)
    h, w, c = net.input_shape
    if ds.train_x.shape[1:] != (h, w, c):
        raise UserError(
            "the net takes %dx%dx%d images but the data has %s" % (h, w, c, "x".join(map(str, ds.train_x.shape[1:])))
        )
    _say_data(ds, args)
    lr = args.lr
    if lr is None and args.optimizer == TRAIN_DEFAULTS["optimizer"]:
        lr = TRAIN_DEFAULTS["lr"]
    hyper = {"lr": lr, "momentum": args.momentum, "weight_decay": args.weight_decay}
    opt = Optimizer(args.optimizer, **hyper)
    train_idx = None
    if args.train_images:
        rng = __import__("numpy").random.RandomState(args.seed)
        train_idx = rng.permutation(len(ds.train_y))[: args.train_images]
    batches = datasets.Batches(
        ds.train_x,
        ds.train_y,
        batch_size=args.batch,
        seed=args.seed,
        shuffle=True,
        augment=not args.no_augment,
        indices=train_idx,
    )
    trainer = Trainer(net, opt, batches)
    base_lr = opt.lr
    for epoch in range(args.epochs):
        if args.lr_decay == "linear":
            # Linear decay over the run, a step per epoch: the last epoch trains at base/epochs.
            opt.set(lr=base_lr * (1 - epoch / args.epochs))
        t0 = time.perf_counter()
        ev = trainer.run_epoch()
        if ev["event"] == "diverged":
            raise UserError(ev["message"])
        test_acc = net.accuracy(ds.test_x, ds.test_y)
        row = {
            "epoch": ev["epoch"],
            "train_loss": ev["train_loss"],
            "train_acc": ev["train_acc"],
            "test_acc": test_acc,
            "images_per_s": ev["images_per_s"],
            "seconds": time.perf_counter() - t0,
        }
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            print(
                "epoch %(epoch)d  loss %(train_loss).3f  train %(train_acc).1f%%  test %(test_acc).1f%%  "
                "%(images_per_s).0f img/s  %(seconds).0f s"
                % dict(row, train_acc=100 * row["train_acc"], test_acc=100 * row["test_acc"]),
                flush=True,
            )
    if args.save:
        info = {
            "trained_on": ds.source,
            "epochs": args.epochs,
            "optimizer": args.optimizer,
            "lr": opt.lr,
            "batch": args.batch,
            "seed": args.seed,
            "test_acc": test_acc,
            "net": args.net,
        }
        save_snapshot(args.save, net, opt, classes=ds.classes, info=info)
        if not args.json:
            print("saved %s" % args.save)


def cmd_eval(args):
    try:
        snap = read_snapshot(args.snapshot)
        net = snap.build(backend=args.backend)
    except SnapshotError as e:
        raise UserError(str(e)) from None
    h, w, _ = net.input_shape
    _, ds = _load_data(args.data, h if h == w and 16 <= h <= 128 else 32)
    check_classes("the snapshot %s" % args.snapshot, net.num_classes, len(ds.classes))
    if ds.test_x.shape[1:] != net.input_shape:
        raise UserError(
            "the snapshot's net takes %s images but the data has %s" % (net.input_shape, ds.test_x.shape[1:])
        )
    _say_data(ds, args)
    t0 = time.perf_counter()
    pred = net.predict(ds.test_x).argmax(axis=1)
    acc = float((pred == ds.test_y).mean()) if len(pred) else 0.0
    names = snap.classes if snap.classes and len(snap.classes) == len(ds.classes) else ds.classes
    per_class = {
        name: float((pred[ds.test_y == k] == k).mean()) for k, name in enumerate(names) if (ds.test_y == k).any()
    }
    row = {"test_acc": acc, "n": int(len(ds.test_y)), "seconds": time.perf_counter() - t0, "per_class": per_class}
    if args.json:
        print(json.dumps(row))
        return
    print("test accuracy %.2f%% on %d images (%.1f s)" % (100 * acc, row["n"], row["seconds"]))
    for name, a in per_class.items():
        print("  %-16s %5.1f%%" % (name, 100 * a))


def cmd_bench(args):
    from . import bench

    bench.run(args)


def _positive(kind):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected a number, got %r" % text) from None
        if v <= 0:
            raise argparse.ArgumentTypeError("must be > 0, got %r" % text)
        return v

    return parse


def _image_size(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number, got %r" % text) from None
    if not 16 <= v <= 128:
        raise argparse.ArgumentTypeError("must be from 16 to 128, got %r" % text)
    return v


def build_parser():
    p = argparse.ArgumentParser(prog="python -m engine", description="ConvNet Playground's engine.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("summary", help="per-layer output volume, params and memory of a net")
    s.add_argument("net", help="a preset (%s) or a spec file" % ", ".join(sorted(PRESETS)))
    s.add_argument("--input", help="override the input volume, e.g. 224x224x3")
    s.add_argument("--batch", type=_positive(int), default=1, help="batch size for the memory breakdown")
    s.add_argument("--optimizer", choices=sorted(DEFAULTS), default="adadelta")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_summary)

    t = sub.add_parser("train", help="train a net on CIFAR-10 (or an image folder)")
    t.add_argument("--data", help="CIFAR-10 archive, its folder, or an image folder (default: $CONVNET_DATA, cache)")
    t.add_argument("--net", default=TRAIN_DEFAULTS["net"], help="preset or spec file")
    t.add_argument("--epochs", type=_positive(int), default=TRAIN_DEFAULTS["epochs"])
    t.add_argument("--batch", type=_positive(int), default=TRAIN_DEFAULTS["batch"])
    t.add_argument("--optimizer", choices=sorted(DEFAULTS), default=TRAIN_DEFAULTS["optimizer"])
    t.add_argument(
        "--lr",
        type=_positive(float),
        help="learning rate (default: %g for %s, else the optimizer's own)"
        % (TRAIN_DEFAULTS["lr"], TRAIN_DEFAULTS["optimizer"]),
    )
    t.add_argument("--momentum", type=float, default=None)
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--lr-decay", choices=["linear", "none"], default="linear", help="learning-rate schedule")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--backend", choices=["numba", "numpy"], default="numba")
    t.add_argument("--train-images", type=_positive(int), help="train on a seeded random subset of this size")
    t.add_argument("--no-augment", action="store_true", help="no random flips and shifts")
    t.add_argument(
        "--image-size", type=_image_size, default=32, help="train on SxS images (16..128; an image folder only)"
    )
    t.add_argument("--save", help="write a snapshot (.npz) after training")
    t.add_argument("--json", action="store_true", help="one JSON object per epoch")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="test accuracy of a snapshot (ours or ConvNetJS's toJSON())")
    e.add_argument("snapshot")
    e.add_argument("--data")
    e.add_argument("--backend", choices=["numba", "numpy"], default="numba")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_eval)

    b = sub.add_parser("bench", help="training and inference images/s per backend and batch size")
    from .bench import add_arguments as add_bench_arguments

    add_bench_arguments(b)
    b.set_defaults(func=cmd_bench)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (UserError, SpecError, SnapshotError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
