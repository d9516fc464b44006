"""`python -m engine summary | train | bench | eval | export | import-torch`: the command line.

The contracts (flags and JSON fields) are docs/ARCHITECTURE.md's ("Contracts"); other tools
read them, so they stay stable. A user mistake ends in one line on stderr and exit status 2,
never a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from .cli_checks import ArgumentParser, check_args, fraction, image_size, non_negative, positive, seed
from .errors import SnapshotError, SpecError, UserError
from .fit import check_classes, fit_spec
from .net import Net
from .optim import DEFAULTS, Optimizer
from .presets import PRESETS, get_preset
from .snapshot import read_snapshot, save_snapshot, snapshot_bytes
from .spec import load_spec, normalize
from .summary import format_table, summarize
from .train import Trainer

# The defaults of `train`: ConvNetJS's CIFAR-10 net, 30 epochs of Adam with linear decay, flips
# and 2-pixel shifts: enough epochs to clear 73% test accuracy (above ConvNetJS's own trained
# snapshot) with every seed measured, in under 10 minutes on 2 cores (docs/BENCHMARKS.md,
# "Training defaults": 24 epochs gave 72.7-73.8% as seeds and the kernels' sum order changed).
TRAIN_DEFAULTS = {"net": "convnetjs-cifar10", "epochs": 30, "batch": 32, "optimizer": "adam", "lr": 0.002}


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
    if min(h, w, c) < 1:
        raise UserError("--input %s: height, width and channels must each be at least 1" % text)
    return [h, w, c]


def cmd_summary(args):
    spec = _spec_from(args.net)
    if args.input:
        spec = [dict(layer) for layer in spec]
        first = {"type": "input", "shape": _parse_input(args.input)}
        if "name" in spec[0]:
            first["name"] = spec[0]["name"]
        spec[0] = first
    result = summarize(
        spec, args.batch, args.optimizer, net_name=args.net, relu_rows=args.relu_rows, backend=args.backend
    )
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


def _new_run(args):
    """The settings of a new run: the flags, with the defaults filled in."""
    given = _run_flags(args)
    run = {k: (TRAIN_DEFAULTS.get(k) if v is None else v) for k, v in given.items()}
    if run["lr"] is None and run["optimizer"] == TRAIN_DEFAULTS["optimizer"]:
        run["lr"] = TRAIN_DEFAULTS["lr"]
    run["weight_decay"] = run["weight_decay"] or 0.0
    run["lr_decay"] = run["lr_decay"] or "linear"
    run["seed"] = run["seed"] or 0
    run["augment"] = run["augment"] is not False
    run["val_every"] = 10 if args.checkpoint else 0  # ConvNetJS's rule: every 10th image validates
    return run


def _resumed_run(args, saved, where):
    """The settings of a resumed run: the saved ones; a flag may only change the epoch count."""
    run = dict(saved)
    for key, value in _run_flags(args).items():
        if value is None or key == "epochs":
            continue
        if value != saved[key]:
            flag = "--no-augment" if key == "augment" else "--" + key.replace("_", "-")
            raise UserError(
                "--resume continues the run of %s as it was: it has %s %r, so leave out %s (only --epochs, "
                "--backend, --data, --checkpoint and --save may be given)" % (where, flag, saved[key], flag)
            )
    if args.epochs is not None:
        run["epochs"] = args.epochs
    return run


def _run_flags(args):
    return {
        "net": args.net,
        "epochs": args.epochs,
        "batch": args.batch,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "momentum": args.momentum,
        "weight_decay": args.weight_decay,
        "lr_decay": args.lr_decay,
        "seed": args.seed,
        "train_images": args.train_images,
        "augment": None if args.no_augment is None else not args.no_augment,
    }


def cmd_train(args):
    from . import checkpoint as ckpt
    from . import fast
    from .atomic import write_atomic

    # Short OpenMP spins, as the app's: beside one busy core (a browser, a build) OpenMP's
    # default spins cut training to a quarter or less, alone short ones cost ~5%
    # (docs/BENCHMARKS.md, "OpenMP spin count beside a browser"). Before any net is built:
    # the pool reads it once, when it loads.
    fast.share_cores_with_a_server()

    snap = saved = spec = None
    if args.resume:
        snap = read_snapshot(args.resume)
        try:
            saved = ckpt.check_run(snap.meta.get("run"), args.resume)
        except ValueError as e:
            raise UserError(str(e)) from None
        run = _resumed_run(args, saved["args"], args.resume)
    else:
        run = _new_run(args)
        spec = _spec_from(run["net"])  # a mistake in the net is found before the data loads
    # The image size is the run's: a resumed run keeps its net's, a new one takes the flag's.
    size = normalize(snap.spec)[0]["shape"][0] if snap is not None else (args.image_size or 32)
    if snap is not None and args.image_size and args.image_size != size:
        raise UserError("--resume continues %s at its %dx%d images: leave out --image-size" % (args.resume, size, size))
    datasets, ds = _load_data(args.data, size)
    if snap is None and run["net"] in PRESETS:
        # A preset is sized to the data (docs/ARCHITECTURE.md, "Data layout"); a spec file
        # says what the user means, so it is checked instead.
        spec = fit_spec(spec, len(ds.classes), ds.train_x.shape[1:])
    else:
        what = "the net %s" % run["net"] if snap is None else "the run in %s" % args.resume
        check_classes(what, normalize(spec if snap is None else snap.spec)[-1]["num_classes"], len(ds.classes))
    try:
        opt = Optimizer(run["optimizer"], lr=run["lr"], momentum=run["momentum"], weight_decay=run["weight_decay"])
    except ValueError as e:
        raise UserError(str(e)) from None
    if snap is None:
        net = Net(spec, backend=args.backend, seed=run["seed"])
        run["lr"], run["momentum"] = opt.lr, opt.momentum  # the optimizer's defaults, if no flag gave them
    else:
        if (snap.meta.get("optimizer") or {}).get("name") != run["optimizer"]:
            raise UserError("%s holds no %s optimizer state to resume with" % (args.resume, run["optimizer"]))
        net = snap.build(backend=args.backend, optimizer=opt)
        if snap.classes and list(snap.classes) != list(ds.classes):
            raise UserError(
                "the run in %s trained on the classes %s, the data has %s" % (args.resume, snap.classes, ds.classes)
            )
    h, w, c = net.input_shape
    if ds.train_x.shape[1:] != (h, w, c):
        raise UserError(
            "the net takes %dx%dx%d images but the data has %s" % (h, w, c, "x".join(map(str, ds.train_x.shape[1:])))
        )
    _say_data(ds, args)
    train_idx = val_idx = None
    if run["train_images"]:
        rng = np.random.RandomState(run["seed"])
        train_idx = rng.permutation(len(ds.train_y))[: run["train_images"]]
    if run["val_every"]:
        base = train_idx if train_idx is not None else np.arange(len(ds.train_y))
        keep, held = datasets.validation_split(len(base), every=run["val_every"])
        train_idx, val_idx = base[keep], base[held]
    batches = datasets.Batches(
        ds.train_x,
        ds.train_y,
        batch_size=run["batch"],
        seed=run["seed"],
        shuffle=True,
        augment=run["augment"],
        indices=train_idx,
    )
    trainer = Trainer(net, opt, batches)
    history, best = [], None
    if saved is not None:
        try:
            ckpt.restore(saved, trainer)
        except (ValueError, KeyError, TypeError) as e:
            raise UserError("cannot resume from %s: %s" % (args.resume, e)) from None
        history, best = list(saved.get("history") or []), saved.get("best")
    epochs = run["epochs"]
    if batches.epoch >= epochs:
        raise UserError(
            "the run in %s has trained its %d epochs: give --epochs N with N > %d to train on"
            % (args.resume, batches.epoch, batches.epoch)
        )
    try:
        checkpoints = ckpt.Checkpoints(args.checkpoint) if args.checkpoint else None
    except OSError as e:
        raise UserError("cannot make the checkpoint folder %s: %s" % (args.checkpoint, e.strerror)) from None
    if checkpoints is not None and not run["val_every"]:
        print(
            "note: the run in %s holds out no validation images (it began without --checkpoint): only "
            "last.npz is kept, no best.npz" % args.resume,
            file=sys.stderr,
        )
    test_acc = history[-1]["test_acc"] if history else None

    def snapshot(test_acc):
        info = {
            "trained_on": ds.source,
            "epochs": batches.epoch,
            "optimizer": run["optimizer"],
            "lr": opt.lr,
            "batch": run["batch"],
            "seed": run["seed"],
            "test_acc": test_acc,
            "net": run["net"],
        }
        state = ckpt.run_state(run, trainer, history, best)
        return snapshot_bytes(net, opt, classes=ds.classes, info=info, run=state)

    with ckpt.InterruptGuard() as guard:
        try:
            while batches.epoch < epochs:
                epoch = batches.epoch
                if run["lr_decay"] == "linear":
                    # Linear decay over the run, a step per epoch: the last epoch trains at base/epochs.
                    opt.set(lr=run["lr"] * (1 - epoch / epochs))
                t0 = time.perf_counter()
                ev = trainer.run_epoch(on_event=guard.check)
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
                is_best = False
                if val_idx is not None:
                    row["val_acc"] = net.accuracy(ds.train_x[val_idx], ds.train_y[val_idx])
                    is_best = best is None or row["val_acc"] > best["val_acc"]
                    if is_best:
                        best = {"epoch": row["epoch"], "val_acc": row["val_acc"]}
                history.append(row)
                if args.json:
                    print(json.dumps(row), flush=True)
                else:
                    print(
                        "epoch %(epoch)d  loss %(train_loss).3f  train %(train_acc).1f%%  test %(test_acc).1f%%  "
                        "%(images_per_s).0f img/s  %(seconds).0f s"
                        % dict(row, train_acc=100 * row["train_acc"], test_acc=100 * row["test_acc"]),
                        flush=True,
                    )
                if checkpoints is not None:
                    checkpoints.save(snapshot(test_acc), best=is_best)
                guard.check()
        except ckpt.Interrupted:
            if checkpoints is not None:
                path = checkpoints.last_path
            elif args.save:
                path = Path(args.save)
            else:
                path = datasets.default_cache_dir() / "interrupted.npz"
                path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, snapshot(test_acc))
            print(
                "saved a checkpoint to %s; go on with: python -m engine train --resume %s" % (path, path),
                file=sys.stderr,
                flush=True,
            )
            raise KeyboardInterrupt from None
    if args.save:
        write_atomic(args.save, snapshot(test_acc))
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


def cmd_export(args):
    from .export import ExportError, export_name, export_onnx, export_pytorch

    to = (args.to or "").lower()
    if to not in ("onnx", "pytorch"):
        raise UserError("give --to onnx or --to pytorch%s" % (", not %r" % args.to if args.to else ""))
    snap = read_snapshot(args.snapshot)
    snap.build()  # weights that do not fit the spec are refused here, with the reason
    name = export_name(snap, args.snapshot)
    stem = Path(args.snapshot).stem
    out = Path(args.out or (stem + (".onnx" if to == "onnx" else "-pytorch")))
    try:
        if to == "onnx":
            if out.is_dir():
                out = out / (stem + ".onnx")
            written = [export_onnx(snap, out, name)]
        else:
            written = export_pytorch(snap, out, name)
    except ExportError as e:
        raise UserError(str(e)) from None
    except OSError as e:
        raise UserError("cannot write %s: %s" % (e.filename or out, e.strerror or e)) from None
    for path in written:
        print("wrote %s" % path)


def cmd_import_torch(args):
    from .export.torch_import import safetensors_to_snapshot

    if args.spec and args.like:
        raise UserError("give --spec or --like, not both")
    try:
        with open(args.weights, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UserError("cannot read %s: %s" % (args.weights, e.strerror)) from None
    spec = _spec_from(args.spec) if args.spec else None
    like = read_snapshot(args.like) if args.like else None
    snap = safetensors_to_snapshot(data, spec=spec, like=like)
    net = snap.build()
    out = args.out or str(Path(args.weights).with_suffix(".npz"))
    save_snapshot(out, net, None, classes=snap.classes, info=snap.meta.get("info"))
    print("wrote %s" % out)


def cmd_bench(args):
    from . import bench

    bench.run(args)


def build_parser():
    p = ArgumentParser(prog="python -m engine", description="ConvNet Playground's engine.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("summary", help="per-layer output volume, params and memory of a net")
    s.add_argument("net", help="a preset (%s) or a spec file" % ", ".join(sorted(PRESETS)))
    s.add_argument("--input", help="override the input volume, e.g. 224x224x3")
    s.add_argument("--batch", type=positive(int), default=1, help="batch size for the memory breakdown")
    s.add_argument("--optimizer", choices=sorted(DEFAULTS), default="adadelta")
    s.add_argument("--backend", choices=["numpy", "numba"], default="numpy", help="whose training memory to count")
    s.add_argument("--relu-rows", action="store_true", help="list each conv's ReLU as its own row (not stored)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_summary)

    t = sub.add_parser("train", help="train a net on CIFAR-10 (or an image folder)")
    t.add_argument("--data", help="CIFAR-10 archive, its folder, or an image folder (default: $CONVNET_DATA, cache)")
    t.add_argument("--net", help="preset or spec file (default: %s)" % TRAIN_DEFAULTS["net"])
    t.add_argument("--epochs", type=positive(int), help="default: %d" % TRAIN_DEFAULTS["epochs"])
    t.add_argument("--batch", type=positive(int), help="default: %d" % TRAIN_DEFAULTS["batch"])
    t.add_argument("--optimizer", choices=sorted(DEFAULTS), help="default: %s" % TRAIN_DEFAULTS["optimizer"])
    t.add_argument(
        "--lr",
        type=positive(float),
        help="learning rate (default: %g for %s, else the optimizer's own)"
        % (TRAIN_DEFAULTS["lr"], TRAIN_DEFAULTS["optimizer"]),
    )
    t.add_argument("--momentum", type=fraction, default=None)
    t.add_argument("--weight-decay", type=non_negative, help="L2 weight decay (default: 0)")
    t.add_argument("--lr-decay", choices=["linear", "none"], help="learning-rate schedule (default: linear)")
    t.add_argument("--seed", type=seed, help="default: 0")
    t.add_argument("--backend", choices=["numba", "numpy"], default="numba")
    t.add_argument("--train-images", type=positive(int), help="train on a seeded random subset of this size")
    t.add_argument("--no-augment", action="store_true", default=None, help="no random flips and shifts")
    t.add_argument(
        "--image-size", type=image_size, help="train on SxS images (16..128; an image folder only; default 32)"
    )
    t.add_argument("--save", help="write a snapshot (.npz) after training (it resumes, too)")
    t.add_argument("--resume", metavar="SNAPSHOT", help="continue the run a snapshot of `train` was saved from")
    t.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="write DIR/last.npz every epoch and DIR/best.npz on the best validation accuracy "
        "(every 10th training image is held out to validate; JSON rows gain val_acc)",
    )
    t.add_argument("--json", action="store_true", help="one JSON object per epoch")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="test accuracy of a snapshot (ours or ConvNetJS's toJSON())")
    e.add_argument("snapshot")
    e.add_argument("--data")
    e.add_argument("--backend", choices=["numba", "numpy"], default="numba")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_eval)

    x = sub.add_parser("export", help="a snapshot as ONNX, or as a PyTorch module + weights + DDP script")
    x.add_argument("snapshot", help="ours (.npz) or a ConvNetJS toJSON() file")
    x.add_argument("--to", help="onnx or pytorch")
    x.add_argument("--out", help="the .onnx file, or the folder for the PyTorch files (default: beside you)")
    x.set_defaults(func=cmd_export)

    i = sub.add_parser("import-torch", help="PyTorch .safetensors weights back into a snapshot")
    i.add_argument("weights", help="a .safetensors file (from the PyTorch export or train_ddp.py)")
    i.add_argument("--spec", help="the net: a preset or spec file (default: the file's own metadata)")
    i.add_argument("--like", help="a snapshot of the same net: its spec, preprocessing and classes")
    i.add_argument("--out", help="the snapshot to write (default: WEIGHTS with .npz)")
    i.set_defaults(func=cmd_import_torch)

    b = sub.add_parser("bench", help="training and inference images/s per backend and batch size")
    from .bench import add_arguments as add_bench_arguments

    add_bench_arguments(b)
    b.set_defaults(func=cmd_bench)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        check_args(args)
        args.func(args)
    except (UserError, SpecError, SnapshotError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
