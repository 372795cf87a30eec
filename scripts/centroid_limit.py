#!/usr/bin/python3
"""What limits Precision@1 of an embedding: measured on test embeddings from chalk-eval.

    build/chalk-eval RUN/checkpoint.safetensors --data DIR --save-embeddings RUN.npy
    /usr/bin/python3 scripts/centroid_limit.py centroid=c.npy@onehot cosface=f.npy triplet=t.npy

Each argument is NAME=FILE.npy (io/npy.h's format: records of label and embedding), optionally
followed by @onehot: the class centroids are then the fixed c_m = e_m of the centroid loss
(--centroids onehot); otherwise they are the class means of the file's own embeddings, put back
on the unit sphere when the embeddings lie on it. Distances are Euclidean, as in eval/metrics.h.
Prints two Markdown tables, one row per argument. The first counts:

  NC acc, P@1     nearest-centroid accuracy; 1-NN label agreement, the query excluded (ties: the
                  lower index, as eval/metrics.h)
  NC errors       test samples whose nearest centroid is another class's ("wrong side")
  P@1 failures    queries whose nearest neighbour has another label, split into those that are
                  NC errors themselves (NC-wrong) and those on the right side (NC-right)
  NC errors with a right 1-NN    wrong side, yet the nearest neighbour is of their class
  ... whose neighbour is NC-wrong   NC-right failures whose wrong neighbour is itself on the
                  wrong side (a misplaced sample of another class in the query's region), and
                  how many distinct such neighbours they have
  outer 3%        the 3% of samples farthest from their nearest centroid: how many are NC-right,
                  and how many of those are P@1 failures

The second measures distances: d(x, c_y) to the own centroid (how tightly classes are packed),
the margin d(x, nearest other centroid) - d(x, c_y) (< 0: an NC error), for the NC-right
failures the distance of the query and of its wrong neighbour to the query's centroid c_y, and
for each kind of failure the distance to the wrong nearest neighbour against the distance to the nearest point
of the query's class (medians).
numpy only.
"""
import sys

import numpy as np


def load(spec):
    name, _, rest = spec.partition("=")
    path, _, kind = rest.partition("@")
    a = np.load(path)
    x, y = a["embedding"].astype(np.float64), a["label"]
    C = int(y.max()) + 1
    if kind == "onehot":
        c = np.eye(C, x.shape[1])
    elif kind == "":
        c = np.stack([x[y == m].mean(0) for m in range(C)])
        if np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-4):
            c /= np.linalg.norm(c, axis=1, keepdims=True)
    else:
        sys.exit(f"{spec}: unknown centroids '@{kind}' (only @onehot)")
    return name, x, y, c


def nearest(x, y, block=1000):
    """Index of the nearest other point (the query excluded) and of the nearest same-class point."""
    sq = (x * x).sum(1)
    nn, same = np.empty(len(x), int), np.empty(len(x), int)
    for s in range(0, len(x), block):
        d = sq[None, :] - 2 * x[s:s + block] @ x.T  # ||q - r||^2 - ||q||^2, as eval/metrics.cpp ranks
        d[np.arange(d.shape[0]), np.arange(s, s + d.shape[0])] = np.inf
        nn[s:s + block] = d.argmin(1)  # argmin takes the lower index on ties
        d[y[s:s + block, None] != y[None, :]] = np.inf
        same[s:s + block] = d.argmin(1)
    return nn, same


def measure(name, x, y, c):
    dc = np.sqrt(((x[:, None, :] - c[None, :, :]) ** 2).sum(2))  # N x C
    own = dc[np.arange(len(y)), y]
    margin = np.where(np.arange(c.shape[0])[None, :] == y[:, None], np.inf, dc).min(1) - own
    nc_ok = dc.argmin(1) == y
    outer = np.zeros(len(y), bool)  # the 3% of samples farthest from their nearest centroid
    outer[np.argsort(dc.min(1), kind="stable")[-(3 * len(y)) // 100:]] = True
    nn, same = nearest(x, y)
    fail = y[nn] != y
    f_wrong, f_ok = np.flatnonzero(fail & ~nc_ok), np.flatnonzero(fail & nc_ok)
    q = lambda v, ps: "/".join(f"{np.quantile(v, p):.3f}" for p in ps) if len(v) else "-"
    med = lambda v: f"{np.median(v):.3f}" if len(v) else "-"
    dist = lambda i, j: np.linalg.norm(x[i] - x[j], axis=1)
    counts = (f"| {name} | {nc_ok.mean():.4f} | {1 - fail.mean():.4f} | {(~nc_ok).sum()} | {fail.sum()} "
              f"| {len(f_wrong)} | {(~nc_ok & ~fail).sum()} | {len(f_ok)} | {(~nc_ok[nn[f_ok]]).sum()} "
              f"({len(set(nn[f_ok][~nc_ok[nn[f_ok]]]))}) | {(outer & nc_ok).sum()} / {(outer & nc_ok & fail).sum()} |")
    dists = (f"| {name} | {q(own, [.5, .9, .99])} | {q(margin, [.01, .02, .05])} "
             f"| {med(own[f_ok])} / {med(dc[nn[f_ok], y[f_ok]])} "
             f"| {med(dist(f_ok, nn[f_ok]))} / {med(dist(f_ok, same[f_ok]))} "
             f"| {med(dist(f_wrong, nn[f_wrong]))} / {med(dist(f_wrong, same[f_wrong]))} |")
    return counts, dists


def main(specs):
    if not specs:
        sys.exit(__doc__)
    rows = [measure(*load(spec)) for spec in specs]
    print("| model | NC acc | P@1 | NC errors | P@1 failures | failures NC-wrong | NC errors with a right 1-NN "
          "| failures NC-right | ... whose neighbour is NC-wrong (distinct neighbours) "
          "| outer 3%: NC-right / of them P@1 failures |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(r[0] for r in rows))
    print()
    print("| model | d(x,c_y) q50/q90/q99 | margin q1/q2/q5 | NC-right failures: d(x,c_y) / d(1-NN,c_y) q50 "
          "| ... d(wrong 1-NN) / d(nearest same) q50 | NC-wrong failures: d(wrong 1-NN) / d(nearest same) q50 |")
    print("|---|---|---|---|---|---|")
    print("\n".join(r[1] for r in rows))


if __name__ == "__main__":
    main(sys.argv[1:])
