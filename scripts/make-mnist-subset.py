#!/usr/bin/env python3
"""Makes data/<dataset>-subset/, the small data sets that ship with chalk.

From a full data set in MNIST's format, keep the first 600 images of each
class from the training file (6,000 images) and the first 100 of each class
from the test file (1,000 images), in file order, and write them as gzip'd IDX
files under the four standard names. The choice is deterministic and so are
the bytes written (gzip header with no file name and time stamp 0), so running
this again reproduces the same files and md5s. Each full file is checked
against the md5 of its raw (uncompressed) bytes first, so a subset is only
ever made from the data set it is named after.

    python3 scripts/make-mnist-subset.py [--dataset NAME] [--full DIR] [--out DIR]

    --dataset mnist          (default) from data/mnist-full/ (scripts/fetch-mnist.sh)
                             into data/mnist-subset/
    --dataset fashion-mnist  from /usr/share/datasets/fashion-mnist/ (Debian's
                             dataset-fashion-mnist) into data/fashion-mnist-subset/

Plain python3: struct + gzip, no numpy. The IDX format (big-endian):
    images: magic 2051, count N, rows, cols, then N*rows*cols unsigned bytes
    labels: magic 2049, count N, then N unsigned bytes (0..9)
"""
import argparse
import gzip
import hashlib
import os
import struct
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPLITS = [("train", 600), ("t10k", 100)]  # (file prefix, images kept per class)

# Per data set: the full set's folder, where to get it, and the md5 of each file's raw bytes.
# MNIST's are those published with it (as scripts/fetch-mnist.sh checks); Fashion-MNIST's are
# those of the files Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1 ships (its .gz
# files are compressed anew, so their md5s differ from the ones in Fashion-MNIST's README).
DATASETS = {
    "mnist": {
        "full": os.path.join(REPO, "data", "mnist-full"),
        "hint": "run scripts/fetch-mnist.sh first",
        "md5": {
            "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
            "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
            "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
            "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
        },
    },
    "fashion-mnist": {
        "full": "/usr/share/datasets/fashion-mnist",
        "hint": "install it first: scripts/install-deps.sh --with-fashion-mnist",
        "md5": {
            "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
            "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
            "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
        },
    },
}
HINT = ""  # the chosen data set's "hint", for messages about a missing file
EXPECTED_MD5 = {}  # the chosen data set's "md5"


def die(msg):
    sys.exit(f"make-mnist-subset: error: {msg}")


def read_file(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        if os.path.exists(path + ".gz"):
            with gzip.open(path + ".gz", "rb") as f:
                return f.read()
        die(f"{path}: not found ({HINT})")
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    want = EXPECTED_MD5.get(os.path.basename(path))
    if want is not None and hashlib.md5(raw).hexdigest() != want:
        die(f"{path}: md5 of the raw bytes is {hashlib.md5(raw).hexdigest()}, expected {want}")
    return raw


def read_images(path):
    data = read_file(path)
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051:
        die(f"{path}: magic {magic}, expected 2051 (IDX images)")
    if len(data) != 16 + n * rows * cols:
        die(f"{path}: {len(data)} bytes, expected {16 + n * rows * cols} for {n} x {rows} x {cols}")
    size = rows * cols
    return [data[16 + i * size:16 + (i + 1) * size] for i in range(n)], rows, cols


def read_labels(path):
    data = read_file(path)
    magic, n = struct.unpack(">II", data[:8])
    if magic != 2049:
        die(f"{path}: magic {magic}, expected 2049 (IDX labels)")
    if len(data) != 8 + n:
        die(f"{path}: {len(data)} bytes, expected {8 + n} for {n} labels")
    return list(data[8:])


def write_gz(path, payload):
    # mtime=0 and no file name in the header: the same input gives the same bytes.
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(payload)


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def main():
    global HINT, EXPECTED_MD5
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    ap.add_argument("--full", help="the full data set's folder (default: the data set's)")
    ap.add_argument("--out", help="default: data/<dataset>-subset")
    args = ap.parse_args()
    spec = DATASETS[args.dataset]
    HINT, EXPECTED_MD5 = spec["hint"], spec["md5"]
    full = args.full or spec["full"]
    out = args.out or os.path.join(REPO, "data", f"{args.dataset}-subset")
    os.makedirs(out, exist_ok=True)

    for prefix, per_class in SPLITS:
        images, rows, cols = read_images(os.path.join(full, f"{prefix}-images-idx3-ubyte"))
        labels = read_labels(os.path.join(full, f"{prefix}-labels-idx1-ubyte"))
        if len(images) != len(labels):
            die(f"{prefix}: {len(images)} images but {len(labels)} labels")

        # The first `per_class` of each class, in file order.
        taken = [0] * 10
        keep = []
        for i, y in enumerate(labels):
            if taken[y] < per_class:
                taken[y] += 1
                keep.append(i)
        if taken != [per_class] * 10:
            die(f"{prefix}: not enough images of some class: {taken}")

        n = len(keep)
        img = struct.pack(">IIII", 2051, n, rows, cols) + b"".join(images[i] for i in keep)
        lab = struct.pack(">II", 2049, n) + bytes(labels[i] for i in keep)
        for kind, payload in (("images-idx3-ubyte", img), ("labels-idx1-ubyte", lab)):
            path = os.path.join(out, f"{prefix}-{kind}.gz")
            write_gz(path, payload)
            print(f"{os.path.relpath(path, REPO)}  {n} items  md5 {md5(path)}  "
                  f"(raw md5 {hashlib.md5(payload).hexdigest()})")


if __name__ == "__main__":
    main()
