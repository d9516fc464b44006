"""train_ddp.py: continue training the exported net with DistributedDataParallel.

Written by ConvNet Playground (`python -m engine export SNAPSHOT --to pytorch`) beside
model.py and weights.safetensors. One process per GPU (NCCL) or per group of CPU cores
(gloo), on one machine or several:

    torchrun --nproc_per_node 4 train_ddp.py --data PATH --epochs 10
    torchrun --nnodes 2 --node_rank 0 --master_addr HOST --master_port 29500 \\
        --nproc_per_node 8 train_ddp.py --data PATH   # node_rank 1 on the other one

PATH is the data the playground reads: CIFAR-10's python archive
(cifar-10-python.tar.gz), its extracted cifar-10-batches-py/ folder, or an image folder
train/<class>/*.png|jpg with test/<class>/... beside it. The defaults below come from
the run the snapshot came from: its optimizer and hyperparameters, its batch size (per
process here, so the global batch is nproc times larger, as is usual with DDP), its
augmentation (a random mirror and shifts of up to 2 px filled with zeros) and its
validation hold-out; the learning rate starts where that run left it. Rank 0 saves the
weights as .safetensors after every epoch (a temp file renamed into place);
`python -m engine import-torch` or `eval` reads them back into the playground.

--checksum-log PREFIX makes every rank write PREFIX.rank<r>.jsonl: per step, its loss
and a SHA-256 of its parameters, to see that all replicas hold the same weights.
"""

import argparse
import gc
import hashlib
import json
import os
import pickle
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # model.py lives beside this script
from model import CLASSES, INPUT_SHAPE, ConvNet, preprocess  # noqa: E402

DEFAULTS = {}  # written by the export from the snapshot's metadata


def parse_args():
    d = DEFAULTS
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="CIFAR-10 or an image folder")
    p.add_argument("--weights", default=str(HERE / "weights.safetensors"))
    p.add_argument("--out", default=str(HERE / "trained.safetensors"))
    p.add_argument("--epochs", type=int, default=d["epochs"])
    p.add_argument("--max-steps", type=int, default=0, help="stop after so many")
    p.add_argument("--batch", type=int, default=d["batch"], help="per process")
    p.add_argument("--optimizer", default=d["optimizer"], choices=sorted(OPTIMIZERS))
    p.add_argument("--lr", type=float, default=d["lr"])
    p.add_argument("--lr-decay", default=d["lr_decay"], choices=["linear", "none"])
    p.add_argument("--momentum", type=float, default=d["momentum"])
    p.add_argument("--weight-decay", type=float, default=d["weight_decay"])
    p.add_argument("--rho", type=float, default=d["rho"])
    p.add_argument("--eps", type=float, default=d["eps"])
    p.add_argument("--beta1", type=float, default=d["beta1"])
    p.add_argument("--beta2", type=float, default=d["beta2"])
    p.add_argument("--no-augment", action="store_true", default=not d["augment"])
    p.add_argument("--val-every", type=int, default=d["val_every"])
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--checksum-log", help="prefix of per-rank step logs")
    return p.parse_args()


# -- data ------------------------------------------------------------------------------
def load_data(path, size, channels):
    """(train_x, train_y, test_x, test_y, classes): uint8 (N, H, W, C), int64 (N,)."""
    path = Path(path)
    if path.is_dir() and (path / "train").is_dir():
        return _image_folder(path, size, channels)
    for folder in (path, path / "cifar-10-batches-py"):
        if (folder / "data_batch_1").is_file():
            return _cifar({n: (folder / n).read_bytes() for n in CIFAR_FILES})
    archive = path / "cifar-10-python.tar.gz" if path.is_dir() else path
    if archive.is_file():
        with tarfile.open(archive) as tar:
            files = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            return _cifar({n: tar.extractfile(files[n]).read() for n in CIFAR_FILES})
    raise SystemExit(f"--data {path}: neither CIFAR-10 nor an image folder")


CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]


def _cifar(blobs):
    def batch(name):
        d = pickle.loads(blobs[name], encoding="bytes")
        x = np.asarray(d[b"data"], np.uint8).reshape(-1, 3, 32, 32)  # (N, C, H, W)
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # (N, H, W, C)
        return x, np.asarray(d[b"labels"], np.int64)

    parts = [batch(f"data_batch_{i}") for i in range(1, 6)]
    test_x, test_y = batch("test_batch")
    meta = pickle.loads(blobs["batches.meta"], encoding="bytes")
    classes = [c.decode() for c in meta[b"label_names"]]
    train_x = np.concatenate([x for x, _ in parts])
    train_y = np.concatenate([y for _, y in parts])
    return train_x, train_y, test_x, test_y, classes


def _image_folder(root, size, channels):
    from PIL import Image

    classes = sorted(d.name for d in (root / "train").iterdir() if d.is_dir())
    h, w = size
    out = []
    for split in ("train", "test"):
        xs, ys = [], []
        for label, c in enumerate(classes):
            for f in sorted((root / split / c).iterdir()):
                if f.suffix.lower() not in (".png", ".jpg", ".jpeg"):
                    continue
                im = Image.open(f).convert("RGB" if channels == 3 else "L")
                if im.size != (w, h):  # its largest centred square, as the playground
                    s = min(im.size)
                    left, top = (im.width - s) // 2, (im.height - s) // 2
                    im = im.crop((left, top, left + s, top + s))
                    im = im.resize((w, h), Image.BICUBIC)
                xs.append(np.asarray(im, np.uint8).reshape(h, w, channels))
                ys.append(label)
        out += [np.stack(xs), np.asarray(ys, np.int64)]
    return (*out, classes)


def augment(xb, generator, shift=2):
    """Per image, a random shift of up to `shift` px (zeros move in) and mirror."""
    n, h, w, c = xb.shape
    padded = torch.zeros((n, h + 2 * shift, w + 2 * shift, c), dtype=xb.dtype)
    padded[:, shift : shift + h, shift : shift + w] = xb
    oy = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
    ox = torch.randint(0, 2 * shift + 1, (n,), generator=generator)
    rows = oy[:, None] + torch.arange(h)  # (N, H)
    cols = ox[:, None] + torch.arange(w)  # (N, W)
    flip = torch.rand(n, generator=generator) < 0.5
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    return padded[torch.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


# -- optimizer -------------------------------------------------------------------------
OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "adam"]


def make_optimizer(model, a):
    """The playground's optimizers; its L2 decay is on weights only, never on biases."""
    named = list(model.named_parameters())
    weights = [p for n, p in named if n.endswith("weight")]
    others = [p for n, p in named if not n.endswith("weight")]
    groups = [
        {"params": weights, "weight_decay": a.weight_decay},
        {"params": others, "weight_decay": 0.0},
    ]
    if a.optimizer in ("sgd", "momentum", "nesterov"):
        momentum = 0.0 if a.optimizer == "sgd" else a.momentum
        nesterov = a.optimizer == "nesterov"
        return torch.optim.SGD(groups, lr=a.lr, momentum=momentum, nesterov=nesterov)
    if a.optimizer == "adagrad":
        return torch.optim.Adagrad(groups, lr=a.lr, eps=a.eps)
    if a.optimizer == "adadelta":
        return torch.optim.Adadelta(groups, lr=a.lr, rho=a.rho, eps=a.eps)
    betas = (a.beta1, a.beta2)
    return torch.optim.Adam(groups, lr=a.lr, betas=betas, eps=a.eps)


# -- training --------------------------------------------------------------------------
def checksum(model):
    h = hashlib.sha256()
    for _, p in sorted(model.state_dict().items()):
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def save(model, path, metadata):
    """Weights as .safetensors, written to a temp file and renamed into place."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        save_file(state, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def accuracy(model, x, y, device, batch=500):
    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            scores = model(preprocess(x[i : i + batch]).to(device))
            right += (scores.argmax(1).cpu() == y[i : i + batch]).sum().item()
    model.train()
    return right / max(len(y), 1)


def main():
    args = parse_args()
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)

    h, w, c = INPUT_SHAPE
    train_x, train_y, test_x, test_y, classes = load_data(args.data, (h, w), c)
    model = ConvNet()
    k = model(torch.zeros(1, c, h, w)).shape[1]
    if len(classes) != k:
        raise SystemExit(f"the data has {len(classes)} classes but the net {k}")
    if CLASSES and list(classes) != list(CLASSES) and rank == 0:
        print(f"note: the data's classes {classes} are not the snapshot's {CLASSES}")
    val_x = val_y = None
    keep = np.arange(len(train_y))
    if args.val_every:  # every val_every-th image validates, as in the playground
        val_x = torch.from_numpy(train_x[:: args.val_every])
        val_y = torch.from_numpy(train_y[:: args.val_every])
        keep = keep[keep % args.val_every != 0]
    train_x, train_y = torch.from_numpy(train_x[keep]), torch.from_numpy(train_y[keep])
    test_x, test_y = torch.from_numpy(test_x), torch.from_numpy(test_y)

    with safe_open(args.weights, framework="pt") as f:
        metadata = dict(f.metadata() or {})
        model.load_state_dict({key: f.get_tensor(key) for key in f.keys()})
    ids = [local_rank] if cuda else None
    model = DistributedDataParallel(model.to(device), device_ids=ids)
    opt = make_optimizer(model, args)
    indices = range(len(train_y))
    sampler = DistributedSampler(indices, world, rank, seed=args.seed)
    generator = torch.Generator().manual_seed(args.seed * 1000 + rank)
    log = None
    if args.checksum_log:
        log = open(f"{args.checksum_log}.rank{rank}.jsonl", "w")
    step = 0
    for epoch in range(args.epochs):
        if args.lr_decay == "linear":
            for group in opt.param_groups:
                group["lr"] = args.lr * (1 - epoch / args.epochs)
        sampler.set_epoch(epoch)
        order = torch.tensor(list(sampler))
        t0, seen, loss_sum, count = time.perf_counter(), 0, 0.0, 0
        for i in range(0, len(order), args.batch):
            rows = order[i : i + args.batch]
            xb, yb = train_x[rows], train_y[rows]
            if not args.no_augment:
                xb = augment(xb, generator)
            scores = model(preprocess(xb).to(device))
            loss = F.cross_entropy(scores, yb.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            seen += len(rows)
            loss_sum, count = loss_sum + loss.item() * len(rows), count + len(rows)
            if log is not None:
                row = {"step": step, "loss": loss.item(), "sha": checksum(model.module)}
                log.write(json.dumps(row) + "\n")
                log.flush()
            if args.max_steps and step >= args.max_steps:
                break
        totals = torch.tensor([loss_sum, count], dtype=torch.float64, device=device)
        dist.all_reduce(totals)
        if rank == 0:
            meta = dict(metadata, trained_by="train_ddp.py", steps=str(step))
            save(model.module, args.out, dict(meta, world_size=str(world)))
            row = {
                "epoch": epoch + 1,
                "train_loss": (totals[0] / totals[1]).item(),
                "test_acc": accuracy(model.module, test_x, test_y, device),
                "images_per_s": seen * world / (time.perf_counter() - t0),
            }
            if val_y is not None:
                row["val_acc"] = accuracy(model.module, val_x, val_y, device)
            print(json.dumps(row), flush=True)
        dist.barrier()
        if args.max_steps and step >= args.max_steps:
            break
    if rank == 0:
        print(f"saved {args.out}", flush=True)
    # DDP's reducer holds Gloo work with tensors in it: free them while the interpreter
    # is whole, or a rank can abort at exit ("terminate called without an active
    # exception").
    del model, opt
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
