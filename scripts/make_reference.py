#!/usr/bin/python3
"""make_reference.py — the PyTorch reference values chalk's C++ tests compare against.

Run (from the repository root, with Debian's python3-torch 1.13):

    /usr/bin/python3 scripts/make_reference.py

It writes tests/reference/{ops,cross_entropy,triplet,centroid,margin_softmax,optim}.json. The results
are committed, so the C++ tests never need Python. Everything is float64, every case draws its
inputs from its own generator seeded by crc32("<family>/<case name>") and torch runs on one thread,
so a re-run reproduces the files bit for bit. The format is described in tests/reference/README.md.

Losses PyTorch has (cross_entropy, TripletMarginLoss, the ops) are called directly. The others are
written below in plain PyTorch ops, exactly as chalk's loss contract defines them (the loss
headers in losses/ and docs/losses/ state it; each function here names the public definition
it follows), and autograd gives the reference
gradients. Inputs are drawn away from every kink (hinge at 0, max/min ties, distance 0, acos at
+-1, branch switches of arcface and sphereface): each case re-draws until every kink is at least
KINK_GAP away, so chalk and PyTorch cannot land on different sides of one by round-off.
"""

import json
import math
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

GENERATOR = "scripts/make_reference.py"
KINK_GAP = 1e-3  # smallest allowed distance of any input to a kink of the function
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference")

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)  # fixed reduction order: bit-for-bit reproducible files

f64, i64 = torch.float64, torch.int64


# ----------------------------------------------------------------------------------------------
# case building and JSON output
# ----------------------------------------------------------------------------------------------

def encode(t):
    """A tensor as {"shape", "dtype", "data"}: row-major values, doubles written with repr (json
    writes Python floats with their shortest round-trip representation: full double precision)."""
    t = t.detach().contiguous()
    if t.dtype == f64:
        data = [float(v) + 0.0 for v in t.reshape(-1).tolist()]  # + 0.0: no "-0.0"
        if not all(math.isfinite(v) for v in data):
            raise ValueError("non-finite value in a reference tensor")
        return {"shape": list(t.shape), "dtype": "float64", "data": data}
    if t.dtype == i64:
        return {"shape": list(t.shape), "dtype": "int64", "data": [int(v) for v in t.reshape(-1).tolist()]}
    raise TypeError(f"unsupported dtype {t.dtype}")


class Family:
    """One output file: a list of cases, each with its own seeded generator."""

    def __init__(self, name):
        self.name = name
        self.cases = []
        self.names = set()

    def gen(self, case_name, attempt=0):
        seed = zlib.crc32(f"{self.name}/{case_name}/{attempt}".encode())
        return torch.Generator().manual_seed(seed)

    def draw(self, case_name, sample, kink_distance=None):
        """inputs = sample(gen), re-drawn (attempt 1, 2, ...) until kink_distance(inputs) >= KINK_GAP."""
        for attempt in range(200):
            inputs = sample(self.gen(case_name, attempt))
            if kink_distance is None or kink_distance(inputs) >= KINK_GAP:
                return inputs
        raise RuntimeError(f"{self.name}/{case_name}: could not draw inputs away from the kinks")

    def add(self, name, params, inputs, fn, grad_wrt):
        """fn(**inputs) returns the main output (a tensor) or a dict with "loss" (the main output)
        and extra forward-only outputs. Gradients are of the main output if it is a scalar, else of
        sum(upstream * output) with a random upstream weight stored as the input "upstream"."""
        assert name not in self.names, name
        self.names.add(name)
        leaves = {k: (v.detach().clone().requires_grad_(k in grad_wrt)) for k, v in inputs.items()}
        result = fn(**leaves)
        outputs = result if isinstance(result, dict) else {"loss": result}
        out = outputs["loss"]
        stored_inputs = dict(inputs)
        if out.dim() == 0:
            objective = out
        else:
            w = torch.randn(out.shape, generator=self.gen(name, "upstream"), dtype=f64)
            stored_inputs["upstream"] = w
            objective = (w * out).sum()
        wrt = [leaves[k] for k in grad_wrt]
        grads = torch.autograd.grad(objective, wrt, allow_unused=True) if out.requires_grad else [None] * len(wrt)
        grads = {k: (g if g is not None else torch.zeros_like(leaves[k])) for k, g in zip(grad_wrt, grads)}
        self.cases.append({
            "name": name,
            "params": params,
            "inputs": {k: encode(v) for k, v in stored_inputs.items()},
            "outputs": {k: encode(v) for k, v in outputs.items()},
            "grads": {k: encode(g) for k, g in grads.items()},
        })

    def write(self):
        path = os.path.join(OUT_DIR, self.name + ".json")
        # One case per line: readable diffs when a case changes.
        with open(path, "w") as f:
            f.write('{"generator": %s, "torch_version": %s, "cases": [\n'
                    % (json.dumps(GENERATOR), json.dumps(torch.__version__)))
            f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in self.cases))
            f.write("\n]}\n")
        print(f"  {os.path.relpath(path)}: {len(self.cases)} cases")


def randn(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=f64)


def uniform(gen, lo, hi, *shape):
    return lo + (hi - lo) * torch.rand(*shape, generator=gen, dtype=f64)


def shuffled(gen, values):
    v = torch.tensor(values, dtype=i64)
    return v[torch.randperm(len(values), generator=gen)]


def pk_labels(gen, counts):
    """Labels with counts[c] samples of class c, in a random order (not class-major, to catch
    indexing bugs)."""
    return shuffled(gen, [c for c, k in enumerate(counts) for _ in range(k)])


def min_gap(values):
    """Smallest difference between two of the values (inf for fewer than two)."""
    v = sorted(float(x) for x in values)
    return min((b - a for a, b in zip(v, v[1:])), default=math.inf)


# ----------------------------------------------------------------------------------------------
# ops.json: the ops the losses are built from
# ----------------------------------------------------------------------------------------------

def family_ops():
    fam = Family("ops")

    for name, shape, axis in [("softmax_axis1", (7, 4), 1), ("softmax_axis0", (5, 3), 0)]:
        x = fam.draw(name, lambda g: {"x": 2 * randn(g, *shape)})
        fam.add(name, {"op": "softmax", "axis": axis}, x, lambda x: torch.softmax(x, dim=axis), ["x"])
    for name, shape, axis in [("log_softmax_axis1", (8, 5), 1), ("log_softmax_axis0", (6, 3), 0)]:
        x = fam.draw(name, lambda g: {"x": 2 * randn(g, *shape)})
        fam.add(name, {"op": "log_softmax", "axis": axis}, x, lambda x: torch.log_softmax(x, dim=axis), ["x"])
    for name, shape, axis, keep in [("logsumexp_axis1", (9, 4), 1, False),
                                    ("logsumexp_axis1_keepdim", (6, 5), 1, True),
                                    ("logsumexp_axis0", (7, 3), 0, False)]:
        x = fam.draw(name, lambda g: {"x": 3 * randn(g, *shape)})
        fam.add(name, {"op": "logsumexp", "axis": axis, "keepdim": keep}, x,
                lambda x: torch.logsumexp(x, dim=axis, keepdim=keep), ["x"])

    # F.normalize: x / max(||x||, 1e-12); rows of very different lengths.
    for name, shape, axis in [("normalize_axis1", (8, 5), 1), ("normalize_axis0", (4, 6), 0)]:
        def sample(g):
            x = randn(g, *shape)
            return {"x": x * uniform(g, 0.2, 3.0, *[s if a == 1 - axis else 1 for a, s in enumerate(shape)])}
        x = fam.draw(name, sample, lambda i: torch.linalg.norm(i["x"], dim=axis).min())
        fam.add(name, {"op": "normalize", "axis": axis, "eps": 1e-12}, x,
                lambda x: F.normalize(x, p=2.0, dim=axis, eps=1e-12), ["x"])

    # torch.cdist(p=2) and its square: chalk's pairwise_distances / pairwise_squared_distances.
    # Distinct points (distance 0 is the kink).
    for name, n, m, d in [("cdist_8x5_6x5", 8, 6, 5), ("cdist_6x3_10x3", 6, 10, 3)]:
        def sample(g):
            return {"a": randn(g, n, d), "b": randn(g, m, d)}
        kink = lambda i: torch.cdist(i["a"], i["b"]).min()
        ab = fam.draw(name, sample, kink)
        fam.add(name, {"op": "cdist", "p": 2}, ab, lambda a, b: torch.cdist(a, b, p=2.0), ["a", "b"])
        sq = "cdist_squared" + name[len("cdist"):]
        ab = fam.draw(sq, sample, kink)
        fam.add(sq, {"op": "cdist_squared", "p": 2}, ab, lambda a, b: torch.cdist(a, b, p=2.0) ** 2, ["a", "b"])

    # matmul: out = op(a) op(b), op(X) = X^T when the flag is set (the stored a, b are what is passed).
    for name, ta, tb, (m, k, n) in [("matmul", False, False, (6, 4, 5)),
                                    ("matmul_ta", True, False, (5, 7, 3)),
                                    ("matmul_tb", False, True, (8, 3, 6)),
                                    ("matmul_ta_tb", True, True, (4, 6, 7))]:
        def sample(g):
            return {"a": randn(g, *((k, m) if ta else (m, k))), "b": randn(g, *((n, k) if tb else (k, n)))}
        ab = fam.draw(name, sample)
        fam.add(name, {"op": "matmul", "transpose_a": ta, "transpose_b": tb}, ab,
                lambda a, b: (a.T if ta else a) @ (b.T if tb else b), ["a", "b"])

    # linear: y = x W^T + b (nn.functional.linear)
    xwb = fam.draw("linear", lambda g: {"x": randn(g, 7, 5), "w": randn(g, 4, 5), "b": randn(g, 4)})
    fam.add("linear", {"op": "linear"}, xwb, lambda x, w, b: F.linear(x, w, b), ["x", "w", "b"])

    # conv2d: x N x C x H x W, w O x C x KH x KW, b O (or absent).
    for name, (N, C, H, W), (O, KH, KW), stride, pad, bias in [
            ("conv2d_s1_p0_bias", (2, 3, 6, 6), (4, 3, 3), 1, 0, True),
            ("conv2d_s2_p1_bias", (2, 2, 7, 7), (3, 3, 3), 2, 1, True),
            ("conv2d_s1_p2_nobias", (1, 3, 5, 5), (2, 3, 3), 1, 2, False),
            ("conv2d_s2_p0_rect", (2, 2, 6, 8), (3, 3, 2), 2, 0, True),
            ("conv2d_s1_p1_1ch", (3, 1, 5, 6), (4, 3, 3), 1, 1, True),
            ("conv2d_s2_p2_5x5", (1, 2, 8, 7), (2, 5, 5), 2, 2, True)]:
        def sample(g):
            i = {"x": randn(g, N, C, H, W), "w": 0.5 * randn(g, O, C, KH, KW)}
            if bias:
                i["b"] = randn(g, O)
            return i
        xwb = fam.draw(name, sample)
        fam.add(name, {"op": "conv2d", "stride": stride, "padding": pad}, xwb,
                lambda x, w, b=None: F.conv2d(x, w, b, stride=stride, padding=pad),
                ["x", "w", "b"] if bias else ["x", "w"])

    # max_pool2d, kernel 2, stride 2 (floor mode: an odd last row/column is dropped). No ties:
    # the two largest values of every window differ by at least KINK_GAP.
    for name, shape in [("max_pool2d_k2s2", (2, 3, 6, 6)), ("max_pool2d_k2s2_odd", (1, 2, 7, 5))]:
        def kink(i):
            x = i["x"]
            Hc, Wc = x.shape[2] // 2 * 2, x.shape[3] // 2 * 2
            win = x[:, :, :Hc, :Wc].unfold(2, 2, 2).unfold(3, 2, 2).reshape(-1, 4)
            top = win.sort(dim=1, descending=True).values
            return (top[:, 0] - top[:, 1]).min()
        x = fam.draw(name, lambda g: {"x": randn(g, *shape)}, kink)
        fam.add(name, {"op": "max_pool2d", "kernel": 2, "stride": 2}, x,
                lambda x: F.max_pool2d(x, kernel_size=2, stride=2), ["x"])
    return fam


# ----------------------------------------------------------------------------------------------
# cross_entropy.json: F.cross_entropy (PyTorch's own definition)
# ----------------------------------------------------------------------------------------------

def family_cross_entropy():
    fam = Family("cross_entropy")
    for (N, C) in [(10, 4), (7, 3), (16, 5)]:
        for s in [0.0, 0.1, 0.3]:
            for reduction in ["mean", "sum", "none"]:
                name = f"ce_N{N}_C{C}_ls{s}_{reduction}"
                def sample(g):
                    return {"logits": 2 * randn(g, N, C), "labels": torch.randint(0, C, (N,), generator=g)}
                i = fam.draw(name, sample)
                fam.add(name, {"label_smoothing": s, "reduction": reduction}, i,
                        lambda logits, labels: F.cross_entropy(logits, labels, label_smoothing=s,
                                                               reduction=reduction), ["logits"])
    return fam


# ----------------------------------------------------------------------------------------------
# triplet.json
# ----------------------------------------------------------------------------------------------

def torch_triplet_kink(margin, swap, eps=1e-6):
    def kink(i):
        a, p, n = i["anchor"], i["positive"], i["negative"]
        d_ap = F.pairwise_distance(a, p, 2.0, eps)
        d_an = F.pairwise_distance(a, n, 2.0, eps)
        gaps = []
        if swap:
            d_pn = F.pairwise_distance(p, n, 2.0, eps)
            gaps.append((d_an - d_pn).abs().min())
            d_an = torch.minimum(d_an, d_pn)
        gaps.append((d_ap - d_an + margin).abs().min())
        return min(gaps)
    return kink


def distance_matrix(X, distance):
    """The contract's in-batch distances (N x N).
    euclidean: sqrt(max(||xi||^2 + ||xj||^2 - 2 xi.xj, 0)), gradient 0 where d = 0 (the diagonal;
    it never enters a triplet, and the double `where` keeps its gradient 0 instead of 0 * inf = nan);
    squared: the clamped square; cosine: 1 - cos(xi, xj)."""
    if distance == "cosine":
        Xn = F.normalize(X, p=2.0, dim=1, eps=1e-12)
        return 1 - Xn @ Xn.T
    sq = (X * X).sum(dim=1)
    d2 = torch.clamp(sq[:, None] + sq[None, :] - 2 * X @ X.T, min=0)
    if distance == "squared":
        return d2
    positive = d2 > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, d2, torch.ones_like(d2))), torch.zeros_like(d2))


def triplet_value(d_ap, d_an, margin, soft_margin):
    """max(0, d_ap - d_an + margin), or softplus(d_ap - d_an) with the soft margin (no margin)."""
    return F.softplus(d_ap - d_an) if soft_margin else F.relu(d_ap - d_an + margin)


def mining_masks(labels):
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool)
    return same & ~eye, ~same  # positives (p != a), negatives


def skipped_anchors(labels):
    pos, neg = mining_masks(labels)
    return torch.tensor(int((~(pos.any(1) & neg.any(1))).sum()), dtype=i64)


def batch_all_loss(X, labels, distance, margin, soft_margin, normalize, reduction):
    """batch-all: every (a, p, n) with a != p, y_a = y_p, y_n != y_a.
    Reductions: "nonzero" = mean over the triplets with loss > 0 (pytorch-metric-learning's
    AvgNonZeroReducer; 0 if there is none), "mean" = over all valid triplets, "sum"."""
    if normalize:
        X = F.normalize(X, p=2.0, dim=1, eps=1e-12)
    D = distance_matrix(X, distance)
    pos, neg = mining_masks(labels)
    valid = pos[:, :, None] & neg[:, None, :]  # [a, p, n]
    d_ap = D[:, :, None].expand_as(valid)[valid]
    d_an = D[:, None, :].expand_as(valid)[valid]
    l = triplet_value(d_ap, d_an, margin, soft_margin)
    if l.numel() == 0:
        return X.sum() * 0  # no valid triplet: 0 with a zero gradient
    if reduction == "sum":
        return l.sum()
    if reduction == "mean":
        return l.mean()
    active = l > 0
    return l[active].mean() if active.any() else l.sum() * 0


def batch_hard_loss(X, labels, distance, margin, soft_margin, normalize):
    """batch-hard (Hermans, Beyer, Leibe 2017, "In Defense of the Triplet Loss"): per anchor the
    farthest positive (p != a) and the nearest negative; mean over anchors having both."""
    if normalize:
        X = F.normalize(X, p=2.0, dim=1, eps=1e-12)
    D = distance_matrix(X, distance)
    pos, neg = mining_masks(labels)
    terms = []
    for a in range(len(labels)):
        if pos[a].any() and neg[a].any():
            terms.append(triplet_value(D[a][pos[a]].max(), D[a][neg[a]].min(), margin, soft_margin))
    return torch.stack(terms).mean() if terms else X.sum() * 0


def semi_hard_loss(X, labels, distance, margin, soft_margin, normalize):
    """semi-hard as TF-addons triplet_semihard_loss (FaceNet, Schroff et al. 2015): for each
    positive pair (a, p), a != p, the negative with the smallest d_an among those with d_an > d_ap;
    if there is none, the negative with the largest d_an. Mean over all positive pairs (of anchors
    that have a negative)."""
    if normalize:
        X = F.normalize(X, p=2.0, dim=1, eps=1e-12)
    D = distance_matrix(X, distance)
    pos, neg = mining_masks(labels)
    terms = []
    for a in range(len(labels)):
        if not neg[a].any():
            continue
        d_neg = D[a][neg[a]]
        for p in torch.nonzero(pos[a]).flatten().tolist():
            farther = d_neg > D[a, p]
            d_an = d_neg[farther].min() if farther.any() else d_neg.max()
            terms.append(triplet_value(D[a, p], d_an, margin, soft_margin))
    return torch.stack(terms).mean() if terms else X.sum() * 0


def mining_kink(mining, distance, margin, soft_margin, normalize):
    """Smallest distance of the inputs to a kink of the mining loss: hinge at 0 (of every triplet
    that can be selected), ties among the candidates of a max/min, d_an = d_ap for semi-hard."""
    def kink(i):
        X, labels = i["X"], i["labels"]
        Xn = F.normalize(X, p=2.0, dim=1, eps=1e-12) if normalize else X
        D = distance_matrix(Xn, distance)
        pos, neg = mining_masks(labels)
        gaps = [math.inf]
        for a in range(len(labels)):
            dp, dn = D[a][pos[a]], D[a][neg[a]]
            if len(dp) == 0 or len(dn) == 0:
                continue
            gaps += [min_gap(dp), min_gap(dn)]
            if not soft_margin:
                gaps.append(float((dp[:, None] - dn[None, :] + margin).abs().min()))
            if mining == "semihard":
                gaps.append(float((dp[:, None] - dn[None, :]).abs().min()))
        # An uninformative draw is rejected like one near a kink: the loss must be > 0 (a zero
        # gradient everywhere tests nothing) and batch-all must mix active and inactive triplets.
        if not soft_margin and (pos[:, :, None] & neg[:, None, :]).any():
            hinge = D[:, :, None] - D[:, None, :] + margin
            valid = pos[:, :, None] & neg[:, None, :]
            if mining == "all" and not ((hinge[valid] > 0).any() and (hinge[valid] < 0).any()):
                return -math.inf
            selected = {"all": lambda: batch_all_loss(X, labels, distance, margin, False, normalize, "sum"),
                        "hard": lambda: batch_hard_loss(X, labels, distance, margin, False, normalize),
                        "semihard": lambda: semi_hard_loss(X, labels, distance, margin, False, normalize)}
            if float(selected[mining]()) <= 0:
                return -math.inf
        return min(gaps)
    return kink


def family_triplet():
    fam = Family("triplet")

    # nn.TripletMarginLoss(margin, p=2, eps=1e-6, swap, reduction): PyTorch's own definition,
    # d(u, v) = ||u - v + eps||_2.
    for margin in [1.0, 0.3]:
        for swap in [False, True]:
            for reduction in ["none", "mean", "sum"]:
                name = f"torch_margin{margin}_swap{int(swap)}_{reduction}"
                N, D = 10, 5
                def sample(g):
                    a = randn(g, N, D)
                    return {"anchor": a, "positive": a + 0.7 * randn(g, N, D), "negative": a + 1.0 * randn(g, N, D)}
                i = fam.draw(name, sample, torch_triplet_kink(margin, swap))
                loss = torch.nn.TripletMarginLoss(margin=margin, p=2.0, eps=1e-6, swap=swap, reduction=reduction)
                fam.add(name, {"loss": "triplet_margin_loss", "margin": margin, "eps": 1e-6, "swap": swap,
                               "reduction": reduction}, i,
                        lambda anchor, positive, negative: loss(anchor, positive, negative),
                        ["anchor", "positive", "negative"])

    # In-batch mining from (X, labels), the contract's definitions (see the functions above).
    def sample_clustered(counts, D, normalize):
        def sample(g):
            labels = pk_labels(g, counts)
            means = 1.2 * randn(g, len(counts), D)
            X = means[labels] + 0.8 * randn(g, len(labels), D)
            if normalize:  # raw rows of different lengths, so that the normalisation matters
                X = X * uniform(g, 0.5, 2.0, len(labels), 1)
            return {"X": X, "labels": labels}
        return sample

    def add_mining(name, mining, distance, normalize, margin=0.2, soft_margin=False, reduction=None,
                   counts=(4, 4, 4), D=6):
        params = {"mining": mining, "distance": distance, "margin": margin, "soft_margin": soft_margin,
                  "normalize": normalize}
        if mining == "all":
            params["reduction"] = reduction
        i = fam.draw(name, sample_clustered(counts, D, normalize),
                     mining_kink(mining, distance, margin, soft_margin, normalize))

        def fn(X, labels):
            if mining == "all":
                loss = batch_all_loss(X, labels, distance, margin, soft_margin, normalize, reduction)
            elif mining == "hard":
                loss = batch_hard_loss(X, labels, distance, margin, soft_margin, normalize)
            else:
                loss = semi_hard_loss(X, labels, distance, margin, soft_margin, normalize)
            return {"loss": loss, "skipped_anchors": skipped_anchors(labels)}
        fam.add(name, params, i, fn, ["X"])

    for distance in ["euclidean", "squared", "cosine"]:
        for normalize in [True, False]:
            tag = f"{distance}_{'norm' if normalize else 'raw'}"
            for reduction in ["nonzero", "mean", "sum"]:
                add_mining(f"all_{reduction}_{tag}", "all", distance, normalize, reduction=reduction)
            add_mining(f"hard_{tag}", "hard", distance, normalize)
            add_mining(f"semihard_{tag}", "semihard", distance, normalize)
    # other margins and sizes
    add_mining("all_nonzero_euclidean_norm_margin1", "all", "euclidean", True, margin=1.0, reduction="nonzero")
    add_mining("hard_euclidean_raw_margin1_P4K3", "hard", "euclidean", False, margin=1.0, counts=(3, 3, 3, 3), D=4)
    add_mining("semihard_squared_norm_margin0.5_P2K5", "semihard", "squared", True, margin=0.5, counts=(5, 5), D=3)
    # soft margin: softplus(d_ap - d_an)
    for distance in ["euclidean", "cosine"]:
        add_mining(f"all_nonzero_{distance}_norm_soft", "all", distance, True, soft_margin=True, reduction="nonzero")
        add_mining(f"all_mean_{distance}_norm_soft", "all", distance, True, soft_margin=True, reduction="mean")
        add_mining(f"hard_{distance}_norm_soft", "hard", distance, True, soft_margin=True)
        add_mining(f"semihard_{distance}_norm_soft", "semihard", distance, True, soft_margin=True)
    # one class has a single sample: its anchor has no positive and is skipped (counted); it is
    # still a negative for the others.
    for mining, reduction in [("all", "nonzero"), ("all", "mean"), ("hard", None), ("semihard", None)]:
        tag = mining if reduction is None else f"{mining}_{reduction}"
        add_mining(f"{tag}_euclidean_norm_singleton", mining, "euclidean", True, reduction=reduction,
                   counts=(4, 4, 3, 1))
    # no valid triplet at all (a single class): loss 0 with a zero gradient, every anchor skipped.
    for mining, reduction in [("all", "nonzero"), ("hard", None), ("semihard", None)]:
        add_mining(f"{mining}_euclidean_norm_one_class", mining, "euclidean", True, reduction=reduction,
                   counts=(6,))
    return fam


# ----------------------------------------------------------------------------------------------
# centroid.json: the centroid bound (Do et al., CVPR 2019)
# ----------------------------------------------------------------------------------------------

def onehot_centroids(C, D):
    c = torch.zeros(C, D, dtype=f64)
    c[:, :C] = torch.eye(C, dtype=f64)
    return c


def simplex_centroids(C, D):
    """A regular simplex: C unit vectors with equal pairwise distances sqrt(2C/(C-1)), in the first
    C-1 coordinates (D >= C-1). The centered one-hot vectors e_m - 1/C span the (C-1)-dim space
    orthogonal to (1, ..., 1); express them in an orthonormal basis of it and normalise."""
    V = torch.eye(C, dtype=f64) - 1.0 / C
    basis = torch.linalg.svd(V).U[:, : C - 1]  # C x (C-1), orthonormal, spans V's columns
    coords = F.normalize(V @ basis, dim=1)
    c = torch.zeros(C, D, dtype=f64)
    c[:, : C - 1] = coords
    return c


def centroid_distances(X, centroids):
    """d(x_i, c_m) = ||x_i - c_m||, N x C (straight from the definition)."""
    return torch.sqrt(((X[:, None, :] - centroids[None, :, :]) ** 2).sum(dim=2))


def centroid_bound_loss(X, labels, centroids):
    """mean_i [ d(x_i, c_{y_i}) - 1/(3(C-1)) sum_{m != y_i} d(x_i, c_m) ]"""
    C = centroids.shape[0]
    d = centroid_distances(X, centroids)
    onehot = F.one_hot(labels, C).to(X.dtype)
    own = (d * onehot).sum(dim=1)
    others = (d * (1 - onehot)).sum(dim=1)
    return (own - others / (3 * (C - 1))).mean()


def centroid_theorem(X, labels, centroids):
    """The theorem's quantities, by their definitions (the cubic sums over all triplets)."""
    X, centroids = X.detach(), centroids.detach()
    N, C = X.shape[0], centroids.shape[0]
    dxx = torch.cdist(X, X)
    dxc = centroid_distances(X, centroids)
    same = labels[:, None] == labels[None, :]
    pos = same & ~torch.eye(N, dtype=torch.bool)
    valid = pos[:, :, None] & (~same)[:, None, :]  # [i, j, k]: y_i = y_j != y_k, i != j
    own = dxc.gather(1, labels[:, None]).squeeze(1)  # d(x_i, c_{y_i})
    l_t = dxx[:, :, None] - dxx[:, None, :]  # d(x_i, x_j) - d(x_i, x_k)
    # l_d = d(x_i, c_{y_i}) + d(x_j, c_{y_j}) + d(x_k, c_{y_k}) - d(x_i, c_{y_k})
    l_d = own[:, None, None] + own[None, :, None] + own[None, None, :] - dxc[:, labels][:, None, :]
    counts = torch.bincount(labels, minlength=C)
    n = int(counts[0])
    assert bool((counts == n).all()), "the theorem cases use balanced batches"
    G = 3 * (C - 1) * (n - 1) * n
    onehot = F.one_hot(labels, C).to(f64)
    per_sample = own - (dxc * (1 - onehot)).sum(dim=1) / (3 * (C - 1))
    kc = torch.cdist(centroids, centroids)
    kc = kc[~torch.eye(C, dtype=torch.bool)]
    H = int(valid.sum())
    assert H == N * (n - 1) * (N - n)
    eps = float(np.nextafter(2 * float(own.max()), math.inf))  # d(x_i, c_{y_i}) < eps/2 for all i
    k_min, k_max = float(kc.min()), float(kc.max())
    s = lambda v: torch.tensor(v, dtype=f64)
    return {
        "L_t": l_t[valid].sum(),
        "L_d": l_d[valid].sum(),
        "L_d_linear": G * per_sample.sum(),
        "H": s(H),
        "G": s(G),
        "triplets": torch.tensor(H, dtype=i64),
        "k_min": s(k_min),
        "k_max": s(k_max),
        "eps": s(eps),
        "paper_bound": s(H * (k_max - k_min + 3 * eps)),
        "tight_bound": s(2 * eps * H),
    }


def family_centroid():
    fam = Family("centroid")

    def centroids_for(kind, C, D, g):
        if kind == "onehot":
            return onehot_centroids(C, D)
        if kind == "simplex":
            return simplex_centroids(C, D)
        return randn(g, C, D)

    # the per-sample loss, random embeddings (not near the centroids: distance 0 is the kink)
    for kind, C, D, counts in [("onehot", 3, 5, (4, 4, 4)), ("onehot", 4, 4, (3, 2, 4, 3)),
                               ("simplex", 4, 3, (3, 3, 3, 3)), ("simplex", 3, 6, (5, 4, 3)),
                               ("random", 3, 4, (4, 4, 4)), ("random", 5, 8, (2, 3, 3, 2, 4))]:
        name = f"loss_{kind}_C{C}_D{D}_N{sum(counts)}"
        def sample(g):
            return {"X": randn(g, sum(counts), D), "labels": pk_labels(g, counts),
                    "centroids": centroids_for(kind, C, D, g)}
        i = fam.draw(name, sample, lambda i: centroid_distances(i["X"], i["centroids"]).min())
        fam.add(name, {"centroids": kind, "C": C}, i,
                lambda X, labels, centroids: centroid_bound_loss(X, labels, centroids), ["X"])

    # the theorem's quantities on small balanced batches: embeddings near their centroids (small
    # eps: the bounds are tight), and one far from them (the bounds still hold, loosely).
    for kind, C, D, n, sigma in [("onehot", 3, 4, 4, 0.1), ("simplex", 4, 3, 3, 0.1),
                                 ("random", 3, 5, 4, 0.1), ("onehot", 3, 3, 3, 1.0)]:
        name = f"theorem_{kind}_C{C}_D{D}_n{n}_sigma{sigma}"
        def sample(g):
            labels = pk_labels(g, [n] * C)
            c = centroids_for(kind, C, D, g)
            return {"X": c[labels] + sigma * randn(g, C * n, D), "labels": labels, "centroids": c}
        i = fam.draw(name, sample, lambda i: centroid_distances(i["X"], i["centroids"]).min())

        def fn(X, labels, centroids):
            out = {"loss": centroid_bound_loss(X, labels, centroids)}
            out.update(centroid_theorem(X, labels, centroids))
            return out
        fam.add(name, {"centroids": kind, "C": C, "n": n}, i, fn, ["X"])
    return fam


# ----------------------------------------------------------------------------------------------
# margin_softmax.json: normface, cosface, arcface, combined, sphereface
# ----------------------------------------------------------------------------------------------

CLAMP = 1 - 1e-7


def cosines(X, W):
    """cos_ij = normalize(x_i) . normalize(W_j), N x C."""
    return F.normalize(X, p=2.0, dim=1, eps=1e-12) @ F.normalize(W, p=2.0, dim=1, eps=1e-12).T


def theta_of(cos):
    """theta = acos(clamp(cos, -1 + 1e-7, 1 - 1e-7))."""
    return torch.acos(torch.clamp(cos, -CLAMP, CLAMP))


def with_target(logits, labels, target):
    """logits with column y_i of row i replaced by target_i."""
    onehot = F.one_hot(labels, logits.shape[1]).bool()
    return torch.where(onehot, target[:, None], logits)


def margin_softmax_loss(X, labels, W, loss, p):
    """The margin-softmax family of the contract: only the target logit changes; cross-entropy (mean)."""
    cos = cosines(X, W)
    cos_y = cos.gather(1, labels[:, None]).squeeze(1)
    if loss == "sphereface":
        # SphereFace / A-Softmax (Liu et al. 2017): x not normalised, no s.
        # logits = ||x|| cos; target (lambda ||x|| cos + ||x|| psi(theta)) / (1 + lambda),
        # psi = (-1)^k cos(m theta) - 2k, k = floor(m theta / pi) (constant: no gradient).
        m, lam = p["m"], p["lambda"]
        norm = torch.linalg.norm(X, dim=1)
        theta = theta_of(cos_y)
        k = torch.floor(m * theta.detach() / math.pi)
        psi = (1 - 2 * torch.remainder(k, 2)) * torch.cos(m * theta) - 2 * k
        target = (lam * norm * cos_y + norm * psi) / (1 + lam)
        logits = with_target(norm[:, None] * cos, labels, target)
    else:
        s = p["s"]
        if loss == "normface":
            t = cos_y
        elif loss == "cosface":  # CosFace / LMCL (Wang et al. 2018)
            t = cos_y - p["m"]
        elif loss == "arcface":  # ArcFace (Deng et al. 2019)
            m = p["m"]
            theta = theta_of(cos_y)
            if p["easy_margin"]:
                t = torch.where(cos_y > 0, torch.cos(theta + m), cos_y)
            else:
                t = torch.where(cos_y > math.cos(math.pi - m), torch.cos(theta + m), cos_y - m * math.sin(m))
        elif loss == "combined":  # InsightFace: cos(m1 theta + m2) - m3, no fallback
            theta = theta_of(cos_y)
            t = torch.cos(p["m1"] * theta + p["m2"]) - p["m3"]
        else:
            raise ValueError(loss)
        logits = with_target(s * cos, labels, s * t)
    return F.cross_entropy(logits, labels)


def unit_orthogonal(g, u):
    """A random unit vector orthogonal to the unit vector u."""
    v = randn(g, u.shape[0])
    v = v - (v @ u) * u
    return v / torch.linalg.norm(v)


def sample_angles(N, C, D, thetas, norms):
    """W random (C x D), labels (every class present), and x_i at angle thetas[i] from W_{y_i}
    with length norms[i] (the other angles are random)."""
    def sample(g):
        W = randn(g, C, D) * uniform(g, 0.5, 2.0, C, 1)
        labels = torch.cat([torch.arange(C), torch.randint(0, C, (N - C,), generator=g)])
        labels = labels[torch.randperm(N, generator=g)]
        th = thetas(g)
        r = norms(g)
        rows = []
        for i in range(N):
            u = W[labels[i]] / torch.linalg.norm(W[labels[i]])
            v = unit_orthogonal(g, u)
            rows.append(r[i] * (torch.cos(th[i]) * u + torch.sin(th[i]) * v))
        return {"X": torch.stack(rows), "labels": labels, "W": W}
    return sample


def margin_kink(loss, p):
    """Distance to the kinks: acos's clamp at +-1 (every cosine), arcface's branch switch, the
    sphereface k boundaries (m theta / pi an integer)."""
    def kink(i):
        cos = cosines(i["X"], i["W"])
        cos_y = cos.gather(1, i["labels"][:, None]).squeeze(1)
        gaps = [float((CLAMP - cos.abs()).min())]
        if loss == "arcface":
            switch = 0.0 if p["easy_margin"] else math.cos(math.pi - p["m"])
            gaps.append(float((cos_y - switch).abs().min()))
        if loss == "sphereface":
            u = p["m"] * theta_of(cos_y) / math.pi
            gaps.append(float((u - torch.round(u)).abs().min()) * math.pi / p["m"])
        return min(gaps)
    return kink


def family_margin_softmax():
    fam = Family("margin_softmax")
    N, C, D = 12, 4, 5
    def any_norm(g):  # the length of x does not matter when x is normalised
        return uniform(g, 0.5, 2.0, N)

    def spread(g):  # target angles over (0.15, pi - 0.15)
        return uniform(g, 0.15, math.pi - 0.15, N)

    def add(name, loss, p, thetas=spread, norms=any_norm):
        i = fam.draw(name, sample_angles(N, C, D, thetas, norms), margin_kink(loss, p))

        def fn(X, labels, W):
            cos = cosines(X, W)
            logits = torch.linalg.norm(X, dim=1)[:, None] * cos if loss == "sphereface" else p["s"] * cos
            return {"loss": margin_softmax_loss(X, labels, W, loss, p), "logits": logits.detach()}
        fam.add(name, dict({"loss": loss}, **p), i, fn, ["X", "W"])

    add("normface_s16", "normface", {"s": 16.0})
    add("normface_s4", "normface", {"s": 4.0})
    add("cosface_s30_m0.35", "cosface", {"s": 30.0, "m": 0.35})
    add("cosface_s4_m0.2", "cosface", {"s": 4.0, "m": 0.2})

    # arcface: a third of the samples in each region: theta < pi/2 (cos > 0), pi/2 < theta < pi - m
    # (cos < 0, margin applied unless easy_margin), theta > pi - m (x nearly opposite to W_y: the
    # fallback cos - m sin m, or plain cos with easy_margin).
    def arc_thetas(m):
        def thetas(g):
            lo = torch.tensor([0.1, math.pi / 2 + 0.05, math.pi - m + 0.05] * (N // 3), dtype=f64)
            hi = torch.tensor([math.pi / 2 - 0.05, math.pi - m - 0.05, math.pi - 0.05] * (N // 3), dtype=f64)
            return lo + (hi - lo) * torch.rand(N, generator=g, dtype=f64)
        return thetas
    for s, m in [(30.0, 0.5), (4.0, 0.5), (8.0, 0.3)]:
        for easy in [False, True]:
            add(f"arcface_s{s:g}_m{m}{'_easy' if easy else ''}", "arcface", {"s": s, "m": m, "easy_margin": easy},
                thetas=arc_thetas(m))

    add("combined_s30_default", "combined", {"s": 30.0, "m1": 1.0, "m2": 0.3, "m3": 0.2})
    add("combined_s4_m1_0.9", "combined", {"s": 4.0, "m1": 0.9, "m2": 0.25, "m3": 0.1})

    # sphereface: target angles cycle over the m intervals [k pi/m, (k+1) pi/m), away from their ends;
    # ||x|| in [1, 3] (x is not normalised).
    def sphere_thetas(m):
        def thetas(g):
            k = torch.arange(N, dtype=f64) % m
            return (k + uniform(g, 0.1, 0.9, N)) * math.pi / m
        return thetas
    for m in [4, 2]:
        for lam in [5.0, 1000.0]:
            add(f"sphereface_m{m}_lambda{lam:g}", "sphereface", {"m": m, "lambda": lam},
                thetas=sphere_thetas(m), norms=lambda g: uniform(g, 1.0, 3.0, N))
    return fam


# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# optim.json: torch.optim.SGD, Adam and AdamW, one update at a time
# ----------------------------------------------------------------------------------------------
#
# Each case gives the optimizer explicit gradients (no loss, no backward): OPTIM_STEPS of them,
# drawn in advance, one per step, from the parameter's initial value param. The outputs are the
# parameter and the optimizer's state (torch.optim's own names: momentum_buffer, exp_avg,
# exp_avg_sq) after every step, so a test can check one update from any step's state, or a run
# of updates from the start.

OPTIM_STEPS = 10
OPTIM_SIZE = 6


def family_optim():
    fam = Family("optim")

    def add(name, optimizer, options, grad_scale=1.0):
        g = fam.gen(name)
        param0 = randn(g, OPTIM_SIZE)
        grads = grad_scale * randn(g, OPTIM_STEPS, OPTIM_SIZE)
        p = torch.nn.Parameter(param0.clone())
        make = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[optimizer]
        opt = make([p], **options)
        rows = {"param": [], "momentum_buffer": [], "exp_avg": [], "exp_avg_sq": []}
        for t in range(OPTIM_STEPS):
            p.grad = grads[t].clone()
            opt.step()
            rows["param"].append(p.detach().clone())
            for key, value in opt.state[p].items():
                if key in rows and value is not None:
                    rows[key].append(value.detach().clone())
        outputs = {k: torch.stack(v) for k, v in rows.items() if v}
        params = {"optimizer": optimizer, "steps": OPTIM_STEPS, "grad_scale": grad_scale}
        for key, value in opt.defaults.items():  # every option torch used, defaults included
            if key in ("lr", "momentum", "dampening", "nesterov", "weight_decay", "eps"):
                params[key] = value
            elif key == "betas":
                params["beta1"], params["beta2"] = value
        assert name not in fam.names, name
        fam.names.add(name)
        fam.cases.append({"name": name, "params": params,
                          "inputs": {"param": encode(param0), "grads": encode(grads)},
                          "outputs": {k: encode(v) for k, v in outputs.items()}, "grads": {}})

    add("sgd", "sgd", {"lr": 0.1})
    add("sgd_weight_decay", "sgd", {"lr": 0.1, "weight_decay": 0.1})
    add("sgd_momentum", "sgd", {"lr": 0.1, "momentum": 0.9})
    # with dampening != 0 the first step's buffer shows whether it started from zero
    add("sgd_momentum_dampening", "sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5})
    add("sgd_nesterov", "sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True})
    add("sgd_momentum_weight_decay", "sgd", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1})
    add("sgd_nesterov_weight_decay", "sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1})
    add("adam", "adam", {"lr": 0.01})
    add("adam_eps_zero", "adam", {"lr": 0.01, "eps": 0.0})  # where eps enters cannot matter
    add("adam_weight_decay", "adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1})
    add("adamw", "adamw", {"lr": 0.01, "weight_decay": 0.1})
    # gradients of size 1e-3 and eps = 1e-3: eps is as large as sqrt(v_hat), so where it enters
    # the denominator shows (with eps = 1e-8 it changes the update by about 1e-8 of itself)
    add("adam_eps", "adam", {"lr": 0.01, "eps": 1e-3}, grad_scale=1e-3)
    return fam


# ----------------------------------------------------------------------------------------------
# training.json (+ training/<case>.safetensors): 100 steps of chalk-train's recipes, float32
# ----------------------------------------------------------------------------------------------
#
# The test a student trusts most: the same initial weights, the same batches, the same recipe,
# and the losses and weights must agree step by step. PyTorch draws the initial weights (its own
# default init) and writes them as safetensors; chalk loads them, trains on the stored batches of
# the shipped subset (data/mnist-subset) with its own Trainer, and compares.

TRAIN_STEPS = 100
SUBSET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mnist-subset")
SAMPLE_PER_TENSOR = 64  # final weights: a strided sample of this many values, plus sum and norm


def read_idx_gz(name):
    """An IDX file of unsigned bytes (gzip), as a numpy array of its dims."""
    import gzip
    with gzip.open(os.path.join(SUBSET, name + ".gz"), "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{name}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_safetensors(path, tensors):
    """The safetensors format by hand (no `safetensors` package on Debian 12): an 8-byte
    little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} padded with
    spaces to a multiple of 8, then the tensors' bytes (little-endian, row-major), in name order."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = tensors[name].detach().contiguous().numpy().astype("<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)


class ReLUMaxPool2d(torch.nn.Module):
    """chalk's ReLUMaxPool2d: ReLU, then max-pool k x k / k (one layer, so the indices match)."""

    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return F.max_pool2d(F.relu(x), self.k)


class Net(torch.nn.Module):
    """chalk's MLP and SmallCNN (nn/models.h), with chalk's parameter names (net.0.weight, ...)."""

    def __init__(self, model, out):
        super().__init__()
        nn = torch.nn
        if model == "mlp":
            self.net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                                     nn.Linear(128, out))
        else:
            self.net = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), ReLUMaxPool2d(2),
                                     nn.Conv2d(16, 32, 5, padding=2), ReLUMaxPool2d(2), nn.Flatten(),
                                     nn.Linear(1568, 128), nn.ReLU(), nn.Linear(128, out))
        self.flat = model == "mlp"

    def forward(self, x):
        return self.net(x.reshape(x.shape[0], -1) if self.flat else x)


def chalk_lr(step, lr, total, warmup):
    """chalk's schedule (nn/schedule.h, make_schedule "cosine"): linear warm-up (s + 1) / W of lr
    for s < W, then cosine over the remaining T = total - W steps, lr (1 + cos(pi t / T)) / 2."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t, T = step - warmup, total - warmup
    return lr * (1 + math.cos(math.pi * min(t, T) / T)) / 2


def family_training():
    fam = Family("training")
    torch.set_default_dtype(torch.float32)  # this family trains in float32, as chalk-train does
    images = torch.from_numpy(read_idx_gz("train-images-idx3-ubyte").astype(np.float32))
    labels = torch.from_numpy(read_idx_gz("train-labels-idx1-ubyte").astype(np.int64))
    x_all = ((images / 255.0 - 0.1307) / 0.3081).reshape(-1, 1, 28, 28)  # batches.h's normalisation
    n = x_all.shape[0]
    os.makedirs(os.path.join(OUT_DIR, "training"), exist_ok=True)

    def random_batches(g, B):
        """TRAIN_STEPS batches of B indices: consecutive slices of fresh random permutations."""
        stream = torch.cat([torch.randperm(n, generator=g) for _ in range((TRAIN_STEPS * B) // n + 1)])
        return stream[: TRAIN_STEPS * B].reshape(TRAIN_STEPS, B)

    def pk_batches(g, P, K):
        """P classes x K distinct samples each (class by class), as chalk's PKSampler lays them out."""
        out = []
        for _ in range(TRAIN_STEPS):
            classes = torch.randperm(10, generator=g)[:P]
            rows = []
            for c in classes.tolist():
                members = torch.nonzero(labels == c).squeeze(1)
                rows.append(members[torch.randperm(len(members), generator=g)[:K]])
            out.append(torch.cat(rows))
        return torch.stack(out)

    def add(name, model, loss, emb_dim, optimizer, lr, total, warmup, batches_of, loss_params):
        g = fam.gen(name)
        # The model's initial weights depend on (model, D) only: the CNN cases share one file.
        model_file = f"{model}_{emb_dim}.safetensors"
        torch.manual_seed(zlib.crc32(f"training/{model_file}".encode()))
        net = Net(model, emb_dim if emb_dim > 0 else 10)
        write_safetensors(os.path.join(OUT_DIR, "training", model_file),
                          {"model." + k: v for k, v in net.state_dict().items()})
        head = {}
        if loss == "softmax" and emb_dim > 0:  # the linear head: nn.Linear(D, C)'s init
            lin = torch.nn.Linear(emb_dim, 10)
            head = {"W": lin.weight.detach().clone(), "b": lin.bias.detach().clone()}
        elif loss == "arcface":  # the class weights W ~ N(0, 1) (normalised inside the loss)
            head = {"W": torch.randn(10, emb_dim)}
        head = {k: torch.nn.Parameter(v) for k, v in head.items()}
        loss_file = ""
        if head:
            loss_file = name + ".loss.safetensors"
            write_safetensors(os.path.join(OUT_DIR, "training", loss_file), {"loss." + k: v for k, v in head.items()})

        batches = batches_of(g)
        params = list(net.parameters()) + list(head.values())
        if optimizer == "sgd":
            opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
        else:
            opt = torch.optim.Adam(params, lr=lr)
        onehot_c = torch.zeros(10, max(emb_dim, 10))  # the centroid loss's one-hot centroids (D >= C)
        onehot_c[:, :10] = torch.eye(10)

        def objective(out, y):
            if loss == "softmax":
                logits = out if emb_dim == 0 else F.linear(out, head["W"], head["b"])
                return F.cross_entropy(logits, y)
            if loss == "arcface":
                return margin_softmax_loss(out, y, head["W"], "arcface", loss_params)
            if loss == "triplet":
                return batch_hard_loss(out, y, "euclidean", 0.2, False, True)
            if loss == "centroid":
                return centroid_bound_loss(F.normalize(out, p=2.0, dim=1, eps=1e-12), y, onehot_c)
            raise ValueError(loss)

        losses, lrs = [], []
        for s in range(TRAIN_STEPS):
            idx = batches[s]
            for group in opt.param_groups:
                group["lr"] = chalk_lr(s, lr, total, warmup)
            lrs.append(chalk_lr(s, lr, total, warmup))
            l = objective(net(x_all[idx]), labels[idx])
            opt.zero_grad()
            l.backward()
            opt.step()
            losses.append(l.item())
        outputs = {"losses": torch.tensor(losses, dtype=f64)}
        final = {"model." + k: v for k, v in net.state_dict().items()}
        final.update({"loss." + k: v.detach() for k, v in head.items()})
        for k, v in sorted(final.items()):
            flat = v.detach().reshape(-1).double()
            stride = max(1, flat.numel() // SAMPLE_PER_TENSOR)
            outputs[k + ".sample"] = flat[::stride][:SAMPLE_PER_TENSOR]
            outputs[k + ".sum"] = flat.sum()
            outputs[k + ".norm"] = flat.norm()
        p = {"model": model, "loss": loss, "emb_dim": emb_dim, "optimizer": optimizer, "lr": lr,
             "momentum": 0.9 if optimizer == "sgd" else 0.0, "total_steps": total, "warmup_steps": warmup,
             "steps": TRAIN_STEPS, "sample_per_tensor": SAMPLE_PER_TENSOR,
             "init_model": "training/" + model_file,
             "init_loss": "training/" + loss_file if loss_file else ""}
        p.update({"loss_" + k: v for k, v in loss_params.items()})
        fam.names.add(name)
        fam.cases.append({"name": name, "params": p,
                          "inputs": {"batches": encode(batches), "lr": encode(torch.tensor(lrs, dtype=f64))},
                          "outputs": {k: encode(v) for k, v in outputs.items()}, "grads": {}})
        print(f"  training/{name}: loss {losses[0]:.4f} -> {losses[-1]:.4f}")

    # chalk-train's defaults on the subset (6,000 images), 5 epochs: batch 128 = 47 steps an epoch
    # (235 in all); P x K = 10 x 8 = 80 for the triplet loss, 75 steps an epoch (375 in all).
    # Warm-up (losses/registry.cpp): a quarter epoch (12 steps) for softmax and centroid, one epoch
    # (47) for arcface, none for triplet (Adam).
    rb = lambda g: random_batches(g, 128)
    add("mlp_softmax", "mlp", "softmax", 0, "sgd", 0.05, 235, 12, rb, {})
    add("cnn_softmax", "cnn", "softmax", 64, "sgd", 0.05, 235, 12, rb, {})
    add("cnn_arcface", "cnn", "arcface", 64, "sgd", 0.01, 235, 47, rb, {"s": 30.0, "m": 0.5, "easy_margin": False})
    add("cnn_triplet", "cnn", "triplet", 64, "adam", 1e-3, 375, 0, lambda g: pk_batches(g, 10, 8), {})
    add("cnn_centroid", "cnn", "centroid", 64, "sgd", 0.05, 235, 12, rb, {})
    torch.set_default_dtype(torch.float64)
    return fam


def main():
    if not torch.__version__.startswith("1.13"):
        sys.exit(f"make_reference.py: torch {torch.__version__}; the committed references were made with "
                 "torch 1.13 (Debian python3-torch): run /usr/bin/python3 scripts/make_reference.py")
    print(f"torch {torch.__version__} (1.13 as expected), float64, 1 thread")
    os.makedirs(OUT_DIR, exist_ok=True)
    makers = [family_ops, family_cross_entropy, family_triplet, family_centroid, family_margin_softmax,
              family_optim, family_training]
    wanted = sys.argv[1:]  # e.g. `make_reference.py training`: only those families (default: all)
    for make in makers:
        if not wanted or make.__name__[len("family_"):] in wanted:
            make().write()


if __name__ == "__main__":
    main()
