#!/usr/bin/python3
# Peer benchmark: PyTorch on CPU on the same zoo models, digits, batches and timing protocol as src/experiments/bench/throughput.ts
# (train: batch 128, Adam lr 1e-3, cross-entropy; ∇x: batch 256, eval mode, d(Σ CE)/dx only; inference: batch 256,
# eval mode, no_grad; a warm-up of at least 2 steps and `seconds`, then `rounds` rounds of at least `seconds` each, the median).
# `nablax bench --peers torch` runs it with Debian's /usr/bin/python3 in a child process and writes one JSON document
# on its stdin: { seconds, rounds, threads, models: [{ name, spec }], x: base64 float32 [256·784], y: [256] }.
# It prints one JSON document on stdout: { peers: [{ peer, model, measure, batch, imagesPerSecond }], versions }.
# PyTorch is never a nablax dependency: `apt-get install python3-torch libopenblas0-pthread` provides it.
import base64
import json
import statistics
import sys
import time
from pathlib import Path

import torch


# The Sequential of a nablax spec, layer for layer (the same state_dict names): one definition, the one
# scripts/check_pytorch.py uses to compare logits.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
from check_pytorch import build  # noqa: E402


def timed(step, batch, seconds, rounds):
    # warm-up: at least 2 steps and at least `seconds` of them, as nablax's own (src/experiments/bench/throughput.ts)
    n, t0 = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    rates = []
    for _ in range(rounds):
        n, t0 = 0, time.perf_counter()
        while True:
            step()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= seconds:
                break
        rates.append(n * batch / dt)
    return statistics.median(rates)


def blas_in_use():
    """The BLAS library this process mapped (Debian picks it with update-alternatives), by its path."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    except OSError:
        return "unknown BLAS"
    for p in sorted(paths):
        if "openblas-pthread" in p:
            return "OpenBLAS (pthread)"
    for p in sorted(paths):
        if "openblas" in p:
            return "OpenBLAS (" + p.split("/")[-2] + ")"
    return ", ".join(sorted(paths)) or "no BLAS mapped"


def main():
    req = json.load(sys.stdin)
    seconds, rounds, threads = float(req["seconds"]), int(req["rounds"]), int(req["threads"])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.frombuffer(bytearray(base64.b64decode(req["x"])), dtype=torch.float32).view(-1, *req["models"][0]["spec"]["input"])
    y = torch.tensor(req["y"], dtype=torch.long)
    x128, y128 = x[:128], y[:128]
    ce = torch.nn.CrossEntropyLoss()
    out = []
    for m in req["models"]:
        name = m["name"]
        model = build(m["spec"])

        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()

        def train_step():
            opt.zero_grad(set_to_none=True)
            ce(model(x128), y128).backward()
            opt.step()

        rate = timed(train_step, 128, seconds, rounds)
        out.append({"peer": "torch", "model": name, "measure": "train", "batch": 128, "imagesPerSecond": round(rate)})

        model.eval()
        ce_sum = torch.nn.CrossEntropyLoss(reduction="sum")

        def grad_step():
            xi = x.clone().requires_grad_(True)
            (dx,) = torch.autograd.grad(ce_sum(model(xi), y), [xi])
            return dx

        rate = timed(grad_step, 256, seconds, rounds)
        out.append({"peer": "torch", "model": name, "measure": "inputGradient", "batch": 256, "imagesPerSecond": round(rate)})

        def infer_step():
            with torch.no_grad():
                model(x)

        rate = timed(infer_step, 256, seconds, rounds)
        out.append({"peer": "torch", "model": name, "measure": "inference", "batch": 256, "imagesPerSecond": round(rate)})

    version = f"{torch.__version__} (CPU, {torch.get_num_threads()} threads, {blas_in_use()})"
    print(json.dumps({"peers": out, "versions": {"torch": version}}))


if __name__ == "__main__":
    main()
