#!/usr/bin/python3
"""bench/torch_train.py — PyTorch twin of `chalk-train --loss softmax`, for speed ratios.

Trains the same two models as chalk (nn/models.h) on full MNIST and prints the
seconds per epoch of training alone, as one JSON object on stdout:

    /usr/bin/python3 bench/torch_train.py --model cnn --epochs 2 --torch-threads 1 --blas-threads 2

  MLP       784 -> 256 -> ReLU -> 128 -> ReLU -> 10
  SmallCNN  conv5x5 16 pad 2 -> ReLU -> maxpool 2 -> conv5x5 32 pad 2 -> ReLU -> maxpool 2
            -> flatten 1568 -> 128 -> ReLU -> 10
  data      the four IDX files (raw or .gz) read here with struct/gzip (no torchvision),
            preloaded as one float32 tensor, (pixel / 255 - 0.1307) / 0.3081
  training  batch 128, shuffled every epoch (last partial batch kept, like chalk's
            BatchLoader), SGD lr 0.05 momentum 0.9, cross-entropy, constant lr

Timed: the training loop of each epoch (index, forward, loss, backward, step); not
the data loading, not any evaluation. Compare with chalk-train --schedule constant
(epoch_seconds in metrics.jsonl also times training only).

Threads. torch.set_num_threads(T) sizes PyTorch's intra-op OpenMP pool. Debian's
torch calls OpenBLAS (libblas.so.3 -> openblas-openmp) for GEMM, whose own thread
count is read from OPENBLAS_NUM_THREADS / OMP_NUM_THREADS when the library loads,
i.e. before `import torch`: so --blas-threads sets those variables and this script
imports torch only afterwards. The environment seen is printed on stderr and
repeated in the JSON ("env").

Exit status 0; 3 when torch cannot be imported (a message says so: callers skip).
"""
import argparse
import gzip
import json
import os
import statistics
import struct
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--epochs", type=int, default=1, help="epochs to time (each one is reported)")
    p.add_argument("--torch-threads", type=int, default=1, help="torch.set_num_threads (intra-op OpenMP pool)")
    p.add_argument("--blas-threads", type=int, default=None,
                   help="OPENBLAS_NUM_THREADS and OMP_NUM_THREADS, set before importing torch "
                        "(default: leave the environment as it is)")
    p.add_argument("--data", default=None,
                   help="folder with the four MNIST IDX files (default: data/mnist-full next to this script)")
    p.add_argument("--limit-train", type=int, default=0, help="use only the first N training images (smoke runs)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


# ---------------------------------------------------------------- IDX files

def open_idx(folder, name):
    """The file `name` or `name.gz` in `folder`, opened for binary reading."""
    for cand, opener in ((name, open), (name + ".gz", gzip.open)):
        path = os.path.join(folder, cand)
        if os.path.exists(path):
            return opener(path, "rb"), path
    sys.exit(f"torch_train.py: {folder} has neither {name} nor {name}.gz "
             f"(run scripts/fetch-mnist.sh, or pass --data DIR)")


def read_idx(folder, name, expect_dims):
    """An IDX file of unsigned bytes: (dims, raw bytes). Checks the magic and the size."""
    f, path = open_idx(folder, name)
    with f:
        head = f.read(4)
        if len(head) != 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08:
            sys.exit(f"torch_train.py: {path}: not an IDX file of unsigned bytes (magic {head.hex()})")
        ndim = head[3]
        if ndim != expect_dims:
            sys.exit(f"torch_train.py: {path}: {ndim} dimensions, expected {expect_dims}")
        dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        count = 1
        for d in dims:
            count *= d
        data = f.read()
        if len(data) != count:
            sys.exit(f"torch_train.py: {path}: {len(data)} data bytes, expected {count} for dims {dims}")
    return dims, data


def load_mnist(folder, torch, limit=0):
    """Training images N x 1 x 28 x 28 float32 (normalised) and labels N int64."""
    dims, pix = read_idx(folder, "train-images-idx3-ubyte", 3)
    ldims, lab = read_idx(folder, "train-labels-idx1-ubyte", 1)
    if ldims[0] != dims[0]:
        sys.exit(f"torch_train.py: {dims[0]} training images but {ldims[0]} labels")
    n = dims[0] if limit <= 0 else min(limit, dims[0])
    # in place: the peak memory is then the bytes plus one float32 copy (188 MB for 60,000 images)
    x = torch.frombuffer(bytearray(pix), dtype=torch.uint8)[: n * dims[1] * dims[2]]
    del pix
    x = x.view(n, 1, dims[1], dims[2]).to(torch.float32)
    x.div_(255.0).sub_(0.1307).div_(0.3081)
    y = torch.frombuffer(bytearray(lab), dtype=torch.uint8)[:n].to(torch.int64)
    return x.contiguous(), y


# ---------------------------------------------------------------- environment

def blas_info():
    """OpenBLAS as loaded in this process (via its C API), else what torch says."""
    import ctypes
    for lib in ("libopenblas.so.0", "libblas.so.3"):
        try:
            h = ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
            h.openblas_get_config.restype = ctypes.c_char_p
            cfg = h.openblas_get_config().decode()
            par = {0: "sequential", 1: "pthreads", 2: "openmp"}.get(h.openblas_get_parallel(), "?")
            return {"blas": f"OpenBLAS ({cfg}; {par})", "blas_threads": h.openblas_get_num_threads()}
        except (OSError, AttributeError):
            continue
    return {"blas": "unknown (no OpenBLAS symbols in this process)", "blas_threads": None}


def environment(torch):
    env = {k: v for k, v in sorted(os.environ.items())
           if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOMP_"))}
    info = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "mkldnn": torch.backends.mkldnn.is_available(), "cpus": os.cpu_count(),
            "loadavg": [round(v, 2) for v in os.getloadavg()], "vars": env}
    info.update(blas_info())
    return info


# ---------------------------------------------------------------- models

def make_model(name, nn):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, 10))


def main():
    args = parse_args()
    if args.blas_threads is not None:  # must precede the import: OpenBLAS reads them when it loads
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
        os.environ["OMP_NUM_THREADS"] = str(args.blas_threads)
    try:
        import torch
        from torch import nn
    except ImportError as e:
        print(f"torch_train.py: SKIPPED: cannot import torch ({e}); install python3-torch "
              f"(Debian) to compare with PyTorch", file=sys.stderr)
        return 3
    torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)

    here = os.path.dirname(os.path.abspath(__file__))
    folder = args.data or os.path.join(here, "..", "data", "mnist-full")
    x, y = load_mnist(folder, torch, args.limit_train)
    if args.model == "mlp":
        x = x.view(x.shape[0], -1)
    n = x.shape[0]

    env = environment(torch)
    print(f"torch_train.py: {args.model}, {n} images, env {json.dumps(env)}", file=sys.stderr)

    model = make_model(args.model, nn)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    bs = 128
    seconds, losses = [], []
    for epoch in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        total, count = 0.0, 0
        for s in range(0, n, bs):
            idx = perm[s:s + bs]
            xb, yb = x.index_select(0, idx), y.index_select(0, idx)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            count += 1
        seconds.append(time.perf_counter() - t0)
        losses.append(total / max(count, 1))
        print(f"torch_train.py: epoch {epoch + 1}: {seconds[-1]:.2f} s, train loss {losses[-1]:.4f}",
              file=sys.stderr)

    print(json.dumps({"model": args.model, "torch_threads": args.torch_threads, "blas_threads": args.blas_threads,
                      "images": n, "epoch_seconds": seconds, "median_epoch_seconds": statistics.median(seconds),
                      "train_loss": losses, "env": env}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
