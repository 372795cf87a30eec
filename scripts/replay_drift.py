#!/usr/bin/python3
"""How fast float32 training drifts by round-off alone: PyTorch's replay of a training.json case
(tests/reference/training.json, written by make_reference.py) in float32 and in float64, from the
same initial weights, batches and recipe, and the per-step relative loss differences:

  f32 vs f64          the float32 run against the float64 one (the intrinsic drift of float32),
  f32 vs f32+1ulp     the float32 run against itself with every initial weight moved by one ulp
                      (the growth of a perturbation of the size of one rounding),
  ref vs f32          the committed reference against this float32 run (0: the replay is exact);
and then, for each weight tensor after the last step, the largest elementwise difference relative
to the tensor's largest magnitude, f32 vs f64 and f32 vs f32+1ulp.

Usage: /usr/bin/python3 scripts/replay_drift.py cnn_arcface [--out losses.json]
The test tests/test_train_reference.cpp states the numbers this prints (see its comments)."""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_reference as mr  # noqa: E402  (the same model, losses, schedule and data as the reference)

F = torch.nn.functional


def read_safetensors(path):
    """The F32 tensors of a safetensors file (the layout make_reference.write_safetensors writes)."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + a: 8 + n + b], dtype="<f4").copy()).reshape(e["shape"])
    return out


def replay(case, dtype, perturb_ulp=False):
    p = case["params"]
    ref_dir = os.path.join(mr.OUT_DIR)
    init = read_safetensors(os.path.join(ref_dir, p["init_model"]))
    head_init = read_safetensors(os.path.join(ref_dir, p["init_loss"])) if p["init_loss"] else {}
    torch.set_default_dtype(dtype)
    net = mr.Net(p["model"], p["emb_dim"] if p["emb_dim"] > 0 else 10).to(dtype)
    net.load_state_dict({k[len("model."):]: v.to(dtype) for k, v in init.items()})
    head = {k[len("loss."):]: torch.nn.Parameter(v.to(dtype)) for k, v in head_init.items()}
    if perturb_ulp:
        with torch.no_grad():
            for t in list(net.parameters()) + list(head.values()):
                t.copy_(torch.nextafter(t, torch.full_like(t, float("inf"))))
    images = torch.from_numpy(mr.read_idx_gz("train-images-idx3-ubyte").astype(np.float32))
    labels = torch.from_numpy(mr.read_idx_gz("train-labels-idx1-ubyte").astype(np.int64))
    x_all = ((images / 255.0 - 0.1307) / 0.3081).reshape(-1, 1, 28, 28).to(dtype)
    batches = torch.tensor(case["inputs"]["batches"]["data"], dtype=torch.int64).reshape(case["inputs"]["batches"]["shape"])
    params = list(net.parameters()) + list(head.values())
    opt = torch.optim.SGD(params, lr=p["lr"], momentum=0.9) if p["optimizer"] == "sgd" else torch.optim.Adam(params, lr=p["lr"])
    emb_dim, loss = p["emb_dim"], p["loss"]
    onehot_c = torch.zeros(10, max(emb_dim, 10))
    onehot_c[:, :10] = torch.eye(10)
    loss_params = {k[len("loss_"):]: v for k, v in p.items() if k.startswith("loss_")}

    def objective(out, y):
        if loss == "softmax":
            logits = out if emb_dim == 0 else F.linear(out, head["W"], head["b"])
            return F.cross_entropy(logits, y)
        if loss == "arcface":
            return mr.margin_softmax_loss(out, y, head["W"], "arcface", loss_params)
        if loss == "triplet":
            return mr.batch_hard_loss(out, y, "euclidean", 0.2, False, True)
        if loss == "centroid":
            return mr.centroid_bound_loss(F.normalize(out, p=2.0, dim=1, eps=1e-12), y, onehot_c)
        raise ValueError(loss)

    losses = []
    for s in range(batches.shape[0]):
        for group in opt.param_groups:
            group["lr"] = mr.chalk_lr(s, p["lr"], p["total_steps"], p["warmup_steps"])
        idx = batches[s]
        l = objective(net(x_all[idx]), labels[idx])
        opt.zero_grad()
        l.backward()
        opt.step()
        losses.append(l.item())
    torch.set_default_dtype(torch.float64)
    weights = {"model." + k: v.detach().to(torch.float64) for k, v in net.named_parameters()}
    weights.update({"loss." + k: v.detach().to(torch.float64) for k, v in head.items()})
    return losses, weights


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cases = {c["name"]: c for c in json.load(open(os.path.join(mr.OUT_DIR, "training.json")))["cases"]}
    case = cases[a.case]
    ref = case["outputs"]["losses"]["data"]
    f32, w32 = replay(case, torch.float32)
    f64, w64 = replay(case, torch.float64)
    ulp, wulp = replay(case, torch.float32, perturb_ulp=True)
    rel = lambda u, v: abs(u - v) / max(1.0, abs(v))
    print(f"{a.case}: step  ref  f32  f64  |f32-f64|  |f32-f32ulp|  |ref-f32|  (relative to max(1, |loss|))")
    for s in range(len(ref)):
        print(f"{s:3d} {ref[s]:.6f} {f32[s]:.6f} {f64[s]:.6f}  {rel(f32[s], f64[s]):.2e}  {rel(f32[s], ulp[s]):.2e}  "
              f"{rel(ref[s], f32[s]):.2e}")
    # The weights after the last step, as tests/test_train_reference.cpp compares them: the largest
    # elementwise difference relative to the tensor's largest magnitude.
    print(f"{a.case}: weights after {len(ref)} steps  max|a-b| / max|a|:  f32 vs f64   f32 vs f32+1ulp")
    for name, w in w32.items():
        scale = max(w.abs().max().item(), 1e-30)
        print(f"  {name:28s} {(w - w64[name]).abs().max().item() / scale:.2e}   "
              f"{(w - wulp[name]).abs().max().item() / scale:.2e}")
    if a.out:
        json.dump({"case": a.case, "ref": ref, "f32": f32, "f64": f64, "f32_ulp": ulp}, open(a.out, "w"))


if __name__ == "__main__":
    main()
