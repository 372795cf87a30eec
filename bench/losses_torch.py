#!/usr/bin/python3
"""bench/losses_torch.py — PyTorch twin of bench/bench_losses.cpp: forward + backward of each loss.

    /usr/bin/python3 bench/losses_torch.py                    # all, 2 threads, 5 repeats
    /usr/bin/python3 bench/losses_torch.py --threads 1 --repeats 9 --filter arc

The batch: N = 256 embeddings x D = 64 (randn, float32), labels 16 classes x 16 samples
(i // 16) or i % C when C = 10. One iteration = loss = L(x, y); loss.backward(), the
gradients of x and of W (the softmax family's class weights) cleared with `.grad = None`.
Definitions: docs/losses/*.md, the same as chalk's losses/*.h:
  cross_entropy   F.cross_entropy on 256 x 10 logits
  normface/cosface/arcface/combined/sphereface: cos = normalize(x) normalize(W)^T (N x C, one
                  GEMM); the margin is applied to the target column only (gather, f(cos_y),
                  scatter-add of s (f - cos_y)); theta = acos(clamp(cos_y, -1 + 1e-7, 1 - 1e-7))
  centroid        onehot centroids (C = 16), d = torch.cdist(x, c) (N x C),
                  l_i = d_iy - (sum_m d_im - d_iy) / (3 (C - 1)), mean
  triplet_hard    normalise, D = sqrt(max(|xi|^2 + |xj|^2 - 2 xi.xj, 0)) (gradient 0 where D = 0),
                  hardest positive (max) and negative (min) per anchor via masks, relu(+ 0.2), mean
                  over anchors with a positive and a negative
  triplet_all     the same D; PK-indexed: positives N x (K-1) and negatives N x (N-K) gathered
                  from D by index, l = relu(d_ap[:, :, None] - d_an[:, None, :] + 0.2)
                  (N x 15 x 240 = 921,600 triplets, not an N^3 tensor), mean over l > 0
Timing: per loss, warm-up, then `--repeats` samples, each the mean over enough iterations to
fill --min-time seconds; the median of the samples is reported (microseconds), as JSON.

Threads: torch.set_num_threads(--threads); OPENBLAS_NUM_THREADS / OMP_NUM_THREADS =
--blas-threads (default: --threads) are set before `import torch` (OpenBLAS reads them when it
loads). Exit status 3 with a message when torch cannot be imported.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

N, D, K = 256, 64, 16


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--blas-threads", type=int, default=None)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-time", type=float, default=0.2, help="seconds per sample")
    p.add_argument("--filter", default="", help="only the losses whose name contains this")
    return p.parse_args()


def build(torch):
    F = torch.nn.functional

    def margin_logits(x, W, y, s, target_fn):
        """s cos, with the target column replaced by s f(cos_y)."""
        cos = F.linear(F.normalize(x, dim=1), F.normalize(W, dim=1))  # N x C
        cy = cos.gather(1, y[:, None])                                  # N x 1
        return s * cos.scatter_add(1, y[:, None], target_fn(cy) - cy)

    def theta_of(c):
        return torch.acos(c.clamp(-1 + 1e-7, 1 - 1e-7))

    def normface(x, W, y, s=16.0):
        return F.cross_entropy(margin_logits(x, W, y, s, lambda c: c), y)

    def cosface(x, W, y, s=30.0, m=0.35):
        return F.cross_entropy(margin_logits(x, W, y, s, lambda c: c - m), y)

    def arcface(x, W, y, s=30.0, m=0.5):
        def f(c):
            return torch.where(c > math.cos(math.pi - m), torch.cos(theta_of(c) + m), c - m * math.sin(m))
        return F.cross_entropy(margin_logits(x, W, y, s, f), y)

    def combined(x, W, y, s=30.0, m1=1.0, m2=0.3, m3=0.2):
        return F.cross_entropy(margin_logits(x, W, y, s, lambda c: torch.cos(m1 * theta_of(c) + m2) - m3), y)

    def sphereface(x, W, y, m=4, lam=5.0):
        xnorm = x.norm(dim=1, keepdim=True)                              # N x 1
        cos = F.linear(F.normalize(x, dim=1), F.normalize(W, dim=1))
        cy = cos.gather(1, y[:, None])
        theta = theta_of(cy)
        k = torch.floor(m * theta.detach() / math.pi)                    # piecewise constant
        psi = (1 - 2 * torch.remainder(k, 2)) * torch.cos(m * theta) - 2 * k
        fy = (lam * cy + psi) / (1 + lam)
        logits = xnorm * cos.scatter_add(1, y[:, None], fy - cy)
        return F.cross_entropy(logits, y)

    def centroid(x, c, y):
        d = torch.cdist(x, c)                                            # N x C
        C = c.shape[0]
        dy = d.gather(1, y[:, None]).squeeze(1)
        return (dy - (d.sum(1) - dy) / (3 * (C - 1))).mean()

    def distances(x):
        x = F.normalize(x, dim=1)
        sq = (x * x).sum(1)
        d2 = (sq[:, None] + sq[None, :] - 2 * x @ x.t()).clamp(min=0)
        zero = d2 == 0
        return d2.masked_fill(zero, 1.0).sqrt().masked_fill(zero, 0.0)  # gradient 0 where d = 0

    def triplet_hard(x, y, margin=0.2):
        d = distances(x)
        same = y[:, None] == y[None, :]
        eye = torch.eye(len(y), dtype=torch.bool)
        pos, neg = same & ~eye, ~same
        d_ap = d.masked_fill(~pos, -math.inf).max(1).values
        d_an = d.masked_fill(~neg, math.inf).min(1).values
        valid = pos.any(1) & neg.any(1)
        l = F.relu(d_ap - d_an + margin)[valid]
        return l.mean() if l.numel() else d.sum() * 0

    def triplet_all(x, y, margin=0.2):
        d = distances(x)
        n = len(y)
        same = y[:, None] == y[None, :]
        eye = torch.eye(n, dtype=torch.bool)
        k = int(same[0].sum())                       # PK batch: every class has k samples
        pos_idx = (same & ~eye).nonzero()[:, 1].view(n, k - 1)
        neg_idx = (~same).nonzero()[:, 1].view(n, n - k)
        d_ap = d.gather(1, pos_idx)                  # N x (K-1)
        d_an = d.gather(1, neg_idx)                  # N x (N-K)
        l = F.relu(d_ap[:, :, None] - d_an[:, None, :] + margin)
        nonzero = (l > 0).sum()
        return l.sum() / nonzero if nonzero > 0 else l.sum() * 0

    g = torch.Generator().manual_seed(7)
    pk = torch.arange(N) // K        # 16 classes x 16 samples
    mod10 = torch.arange(N) % 10

    def emb():
        return torch.randn(N, D, generator=g).requires_grad_()

    def weights(C):
        return torch.randn(C, D, generator=g).requires_grad_()

    cases = {}
    logits = torch.randn(N, 10, generator=g).requires_grad_()
    cases["cross_entropy"] = ((logits,), lambda: F.cross_entropy(logits, mod10))
    for name, fn in (("normface", normface), ("cosface", cosface), ("arcface_C10", arcface),
                     ("sphereface", sphereface), ("combined", combined)):
        x, W = emb(), weights(10)
        cases[name] = ((x, W), (lambda fn, x, W: lambda: fn(x, W, mod10))(fn, x, W))
    x16, W16 = emb(), weights(16)
    cases["arcface_C16"] = ((x16, W16), lambda: arcface(x16, W16, pk))
    xc, cen = emb(), torch.eye(16, D)
    cases["centroid"] = ((xc,), lambda: centroid(xc, cen, pk))
    xt = emb()
    cases["triplet_hard"] = ((xt,), lambda: triplet_hard(xt, pk))
    cases["triplet_all"] = ((xt,), lambda: triplet_all(xt, pk))
    # keep the table order of bench_losses.cpp
    order = ["cross_entropy", "normface", "cosface", "arcface_C10", "arcface_C16", "sphereface", "combined",
             "centroid", "triplet_hard", "triplet_all"]
    return [(n, cases[n][0], cases[n][1]) for n in order]


def time_case(leaves, fn, repeats, min_time):
    def step():
        loss = fn()
        loss.backward()
        for t in leaves:
            t.grad = None

    for _ in range(5):
        step()
    t0, n = time.perf_counter(), 0   # calibrate: iterations per sample
    while time.perf_counter() - t0 < min_time / 4:
        step()
        n += 1
    iters = max(1, int(n * 4))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        samples.append((time.perf_counter() - t0) / iters * 1e6)
    return samples, iters


def main():
    args = parse_args()
    blas = args.blas_threads if args.blas_threads is not None else args.threads
    os.environ["OPENBLAS_NUM_THREADS"] = str(blas)   # before the import: read when OpenBLAS loads
    os.environ["OMP_NUM_THREADS"] = str(blas)
    try:
        import torch
    except ImportError as e:
        print(f"losses_torch.py: SKIPPED: cannot import torch ({e}); install python3-torch (Debian)", file=sys.stderr)
        return 3
    torch.set_num_threads(args.threads)
    env = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(),
           "vars": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("OPENBLAS_", "OMP_", "GOMP_"))},
           "loadavg": [round(v, 2) for v in os.getloadavg()]}
    try:
        import ctypes
        h = ctypes.CDLL("libopenblas.so.0")
        h.openblas_get_config.restype = ctypes.c_char_p
        env["blas"] = h.openblas_get_config().decode()
        env["blas_threads"] = h.openblas_get_num_threads()
    except (OSError, AttributeError):
        env["blas"] = "unknown (not OpenBLAS)"
    print(f"losses_torch.py: env {json.dumps(env)}", file=sys.stderr)
    out = {"env": env, "unit": "us", "results": {}}
    for name, leaves, fn in build(torch):
        if args.filter not in name:
            continue
        samples, iters = time_case(leaves, fn, args.repeats, args.min_time)
        out["results"][name] = {"median_us": statistics.median(samples), "samples_us": samples, "iterations": iters}
        print(f"losses_torch.py: {name:14} {statistics.median(samples):9.1f} us  (x{iters} per sample)",
              file=sys.stderr)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
