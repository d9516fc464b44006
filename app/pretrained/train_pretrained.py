"""The recipe of the pretrained snapshot that ships beside this file (cifar10.npz).

    python app/pretrained/train_pretrained.py --data ../shared/datasets/cifar10-jpeg

Trains a small 3-conv net (32-32-64 filters of 5x5, about 90K params) with Adam, L2 weight
decay 5e-4, batch 32, random flips and 2-pixel shifts, on CIFAR-10's training set minus every
10th image (the validation split), stepping the learning rate down at epochs 9, 13 and 16, and
keeps the epoch with the best validation accuracy. Its time and accuracy: docs/BENCHMARKS.md,
"The pretrained snapshot".
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from datasets import Batches, load_dataset, validation_split  # noqa: E402
from engine import Net, Optimizer, Trainer, save_snapshot  # noqa: E402

SPEC = [
    {"type": "input", "shape": [32, 32, 3]},
    {"type": "conv", "out_channels": 32, "kernel_size": 5, "padding": 2, "activation": "relu"},
    {"type": "pool", "kernel_size": 2, "stride": 2},
    {"type": "conv", "out_channels": 32, "kernel_size": 5, "padding": 2, "activation": "relu"},
    {"type": "pool", "kernel_size": 2, "stride": 2},
    {"type": "conv", "out_channels": 64, "kernel_size": 5, "padding": 2, "activation": "relu"},
    {"type": "pool", "kernel_size": 2, "stride": 2},
    {"type": "softmax", "num_classes": 10},
]
SCHEDULE = {1: 1e-3, 9: 5e-4, 13: 2.5e-4, 16: 1e-4}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data")
    p.add_argument("--epochs", type=int, default=18)
    p.add_argument("--out", default=str(Path(__file__).with_name("cifar10.npz")))
    args = p.parse_args()
    ds = load_dataset(args.data, progress=False)
    tr_idx, val_idx = validation_split(len(ds.train_y), every=10)
    net = Net(SPEC, backend="numba", seed=1)
    opt = Optimizer("adam", lr=1e-3, weight_decay=5e-4)
    batches = Batches(ds.train_x, ds.train_y, batch_size=32, seed=1, shuffle=True, augment=True, indices=tr_idx)
    trainer = Trainer(net, opt, batches)
    best, t0 = 0.0, time.time()
    for epoch in range(1, args.epochs + 1):
        if epoch in SCHEDULE:
            opt.set(lr=SCHEDULE[epoch])
        ev = trainer.run_epoch()
        val = net.accuracy(ds.train_x[val_idx], ds.train_y[val_idx])
        row = {
            "epoch": epoch,
            "lr": opt.lr,
            "train_loss": ev["train_loss"],
            "val_acc": val,
            "minutes": (time.time() - t0) / 60,
        }
        if val > best:
            best = val
            row["test_acc"] = test = net.accuracy(ds.test_x, ds.test_y)
            info = {
                "recipe": "app/pretrained/train_pretrained.py",
                "epochs": epoch,
                "optimizer": "adam",
                "weight_decay": 5e-4,
                "batch": 32,
                "augment": "flip + shift 2px",
                "seed": 1,
                "val_acc": val,
                "test_acc": test,
                "trained_on": "CIFAR-10 train minus every 10th image (45,000)",
            }
            save_snapshot(args.out, net, None, classes=ds.classes, info=info)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
