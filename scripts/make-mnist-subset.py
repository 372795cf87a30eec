#!/usr/bin/env python3
"""Makes data/mnist-subset/, the small MNIST that ships with chalk.

From the full MNIST in data/mnist-full/ (scripts/fetch-mnist.sh), keep the
first 600 images of each digit from the training file (6,000 images) and the
first 100 of each digit from the test file (1,000 images), in file order, and
write them as gzip'd IDX files under the four standard names. The choice is
deterministic and so are the bytes written (gzip header with no file name and
time stamp 0), so running this again reproduces the same files and md5s.

    python3 scripts/make-mnist-subset.py [--full DIR] [--out DIR]

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
        die(f"{path}: not found (run scripts/fetch-mnist.sh first)")
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


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
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", default=os.path.join(REPO, "data", "mnist-full"))
    ap.add_argument("--out", default=os.path.join(REPO, "data", "mnist-subset"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    for prefix, per_class in SPLITS:
        images, rows, cols = read_images(os.path.join(args.full, f"{prefix}-images-idx3-ubyte"))
        labels = read_labels(os.path.join(args.full, f"{prefix}-labels-idx1-ubyte"))
        if len(images) != len(labels):
            die(f"{prefix}: {len(images)} images but {len(labels)} labels")

        # The first `per_class` of each digit, in file order.
        taken = [0] * 10
        keep = []
        for i, y in enumerate(labels):
            if taken[y] < per_class:
                taken[y] += 1
                keep.append(i)
        if taken != [per_class] * 10:
            die(f"{prefix}: not enough images of some digit: {taken}")

        n = len(keep)
        img = struct.pack(">IIII", 2051, n, rows, cols) + b"".join(images[i] for i in keep)
        lab = struct.pack(">II", 2049, n) + bytes(labels[i] for i in keep)
        for kind, payload in (("images-idx3-ubyte", img), ("labels-idx1-ubyte", lab)):
            path = os.path.join(args.out, f"{prefix}-{kind}.gz")
            write_gz(path, payload)
            print(f"{os.path.relpath(path, REPO)}  {n} items  md5 {md5(path)}  "
                  f"(raw md5 {hashlib.md5(payload).hexdigest()})")


if __name__ == "__main__":
    main()
