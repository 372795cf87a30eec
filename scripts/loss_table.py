#!/usr/bin/env python3
"""Train SmallCNN on full MNIST with every loss and print one Markdown table of the results.

    python3 scripts/loss_table.py [--epochs 5] [--threads 2] [--out runs/table] [--losses softmax,arcface]

Each run is `build/chalk-train --model cnn --loss L --emb-dim 64 --epochs E --seed 0 --out OUT/L`
with the loss's default options; the table reports the last epoch of each run's
metrics.jsonl (test accuracy, Precision@1, Recall@1, MAP@R, NMI) and the median training
seconds per epoch. Needs the full set (scripts/fetch-mnist.sh) or --data DIR.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

LOSSES = ["softmax", "normface", "sphereface", "cosface", "arcface", "combined", "triplet", "centroid"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model", default="cnn")
    ap.add_argument("--emb-dim", type=int, default=64)
    ap.add_argument("--out", default="runs/table")
    ap.add_argument("--data", default="")
    ap.add_argument("--losses", default=",".join(LOSSES))
    ap.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", "build", "chalk-train"))
    args = ap.parse_args()

    rows = []
    for loss in args.losses.split(","):
        out = os.path.join(args.out, loss)
        cmd = [args.binary, "--model", args.model, "--loss", loss, "--emb-dim", str(args.emb_dim),
               "--epochs", str(args.epochs), "--threads", str(args.threads), "--seed", "0", "--quiet", "--out", out]
        if args.data:
            cmd += ["--data", args.data]
        if os.path.exists(os.path.join(out, "checkpoint.safetensors")):
            cmd += ["--resume"]  # finish (or just re-read) an earlier run of the same table
        print("$", " ".join(cmd), file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, stdout=sys.stderr)
        with open(os.path.join(out, "metrics.jsonl")) as f:
            epochs = [json.loads(line) for line in f if line.strip()]
        last = epochs[-1]
        rows.append((loss, last, statistics.median(e["epoch_seconds"] for e in epochs)))

    print(f"| loss ({args.model}, {args.emb_dim}-d, {args.epochs} epochs, seed 0, {args.threads} threads) "
          "| test accuracy | P@1 | R@1 | R@8 | MAP@R | NMI | s/epoch (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for loss, m, secs in rows:
        print(f"| {loss} | {m['test_accuracy']:.4f} | {m['precision_at_1']:.4f} | {m['recall_at_1']:.4f} | "
              f"{m['recall_at_8']:.4f} | {m['map_at_r']:.4f} | {m['nmi']:.4f} | {secs:.2f} |")


if __name__ == "__main__":
    main()
