#!/usr/bin/env python3
"""Train SmallCNN with every loss over several seeds and print one Markdown table of the results.

    python3 scripts/loss_table.py [--dataset mnist|fashion-mnist] [--seeds 0,1,2] [--epochs 5]
                                  [--threads 1] [--out runs/table] [--losses softmax,arcface] [--jobs 2]

Each run is `build/chalk-train --dataset D --model cnn --loss L --emb-dim 64 --epochs E --seed S
--threads T --out OUT/D/L/seed-S` with the loss's default options (chalk-train finds the full
data set as it always does: scripts/fetch-mnist.sh for MNIST, Debian's dataset-fashion-mnist for
Fashion-MNIST; --data DIR overrides). The table reports the last epoch of each run's
metrics.jsonl — test accuracy, Precision@1, MAP@R, NMI — as the mean over the seeds with its 95%
Student-t interval (the rule of eval/confidence.h), and the median training seconds per epoch
over every epoch of every seed. --jobs runs that many trainings side by side (each on --threads
threads). A finished run is read again, not retrained, so an interrupted table resumes.
"""
import argparse
import concurrent.futures
import json
import math
import os
import statistics
import subprocess
import sys

LOSSES = ["softmax", "normface", "sphereface", "cosface", "arcface", "combined", "triplet", "centroid"]
# two-sided 95% Student-t quantiles, by degrees of freedom (eval/confidence.cpp has the same table)
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def interval(values):
    m = statistics.fmean(values)
    if len(values) < 2:
        return m, float("nan")
    half = T95.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return m, half


def run(args, loss, seed):
    out = os.path.join(args.out, args.dataset, loss, f"seed-{seed}")
    metrics = os.path.join(out, "metrics.jsonl")
    if os.path.exists(metrics):
        with open(metrics) as f:
            epochs = [json.loads(line) for line in f if line.strip()]
        if len(epochs) >= args.epochs:
            return loss, seed, epochs[: args.epochs]
    cmd = [args.binary, "--dataset", args.dataset, "--model", "cnn", "--loss", loss, "--emb-dim", "64",
           "--epochs", str(args.epochs), "--threads", str(args.threads), "--seed", str(seed), "--quiet",
           "--out", out]
    if args.data:
        cmd += ["--data", args.data]
    if os.path.exists(os.path.join(out, "checkpoint.safetensors")):
        cmd += ["--resume"]
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, stdout=sys.stderr)
    with open(metrics) as f:
        return loss, seed, [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="runs/table")
    ap.add_argument("--data", default="")
    ap.add_argument("--losses", default=",".join(LOSSES))
    ap.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", "build", "chalk-train"))
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    losses = args.losses.split(",")

    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for loss, seed, epochs in pool.map(lambda ls: run(args, *ls), [(l, s) for l in losses for s in seeds]):
            results[(loss, seed)] = epochs

    def cell(loss, key):
        m, half = interval([results[(loss, s)][-1][key] for s in seeds])
        return f"{m:.4f} ± {half:.4f}" if not math.isnan(half) else f"{m:.4f}"

    name = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}[args.dataset]
    print(f"| loss ({name}, SmallCNN, 64-d, {args.epochs} epochs, seeds {args.seeds}, {args.threads} thread"
          f"{'s' if args.threads > 1 else ''}) | test accuracy | P@1 | MAP@R | NMI | s/epoch (median) |")
    print("|---|---|---|---|---|---|")
    for loss in losses:
        secs = statistics.median(e["epoch_seconds"] for s in seeds for e in results[(loss, s)])
        print(f"| {loss} | {cell(loss, 'test_accuracy')} | {cell(loss, 'precision_at_1')} | "
              f"{cell(loss, 'map_at_r')} | {cell(loss, 'nmi')} | {secs:.1f} |")
    print(f"\nmean ± half-width of the 95% Student-t interval over {len(seeds)} seeds; "
          "per seed (test accuracy / P@1):")
    for loss in losses:
        per = ", ".join(f"{s}: {results[(loss, s)][-1]['test_accuracy']:.4f} / "
                        f"{results[(loss, s)][-1]['precision_at_1']:.4f}" for s in seeds)
        print(f"- {loss}: {per}")


if __name__ == "__main__":
    main()
