#!/usr/bin/env python3
"""scripts/spread_table.py — docs/demos/SPREAD.md from the demo runs scripts/kernel-spread.sh made.

  scripts/spread_table.py WORK OUT SECONDS THREADS KERNEL...

WORK/<kernel>/<NN_topic>/results.json holds each demo's numbers under each kernel; OUT gets, per
demo, every number under every kernel and its spread (max - min), and a summary with each demo's
largest spread. SECONDS and THREADS are what the runs took and used (they are quoted in the page).
Timings (seconds, time ratios, demo 07's cost exponents, which are fitted to times) vary from run
to run with one kernel too, so the summary leaves them out of "largest spread".
"""
import json
import os
import sys


def is_timing(key):
    return "second" in key or "time" in key or key.startswith("exponent_")


def main(work, out, secs, threads, kernels):
    demos = sorted({d for k in kernels for d in os.listdir(os.path.join(work, k))
                    if os.path.isdir(os.path.join(work, k, d))})
    lines = ["# How far the gallery's numbers move with the OpenBLAS kernel", "",
             "Written by `scripts/kernel-spread.sh`: every demo's default run once per OpenBLAS kernel this CPU "
             f"can run ({', '.join(kernels)}; `OPENBLAS_CORETYPE` set per run, {threads} thread(s), seed 0), "
             f"{secs} s in all. The same seed and thread count give the same numbers with one kernel; another "
             "kernel rounds the matrix products otherwise and training carries the difference on. **spread** is "
             "max - min over the kernels: read a gallery number as uncertain by at least that much. A row whose "
             "spread is 0 did not move.", ""]
    machine = None
    summary = []
    for d in demos:
        res = {}
        for k in kernels:
            p = os.path.join(work, k, d, "results.json")
            if os.path.exists(p):
                with open(p) as f:
                    j = json.load(f)
                res[k] = j.get("results", {})
                machine = machine or j.get("machine")
        keys = sorted({key for r in res.values() for key in r})
        rows, moved, largest = [], 0, (0.0, "")
        for key in keys:
            vals = [res.get(k, {}).get(key) for k in kernels]
            nums = [v for v in vals if isinstance(v, (int, float))]
            spread = max(nums) - min(nums) if len(nums) == len(kernels) else float("nan")
            if spread != 0:
                moved += 1
            if not is_timing(key) and spread == spread and spread > largest[0]:
                largest = (spread, key)
            cells = [("%.6g" % v) if isinstance(v, (int, float)) else str(v) for v in vals]
            rows.append(f"| {key} | " + " | ".join(cells) + f" | {spread:.3g} |")
        summary.append(f"| {d} | {len(keys)} | {moved} | {largest[1] or '-'} ({largest[0]:.3g}) |")
        lines += [f"## {d}", "", "| number | " + " | ".join(kernels) + " | spread |",
                  "|---|" + "---|" * (len(kernels) + 1)] + rows + [""]
    head = ["## Summary", "",
            "| demo | numbers | numbers that moved | largest spread (timings aside: seconds, time ratios, cost exponents) |",
            "|---|---|---|---|"] + summary + [""]
    if machine:
        lines.insert(4, f"*Machine (the first kernel's run): {machine}.*\n")
    lines[5:5] = head
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"kernel-spread: wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
