"""Carry many trained runs off a machine that returns only a few small files (issue #12).

Usage:
    python benchmarks/slim_int8.py pack RUNS_DIR --labels L1 L2 ... -o SLIM_DIR [--chunk-mib 15]
    python benchmarks/slim_int8.py unpack SLIM_DIR -o RUNS_DIR

`pack` keeps, of each run RUNS_DIR/L, only the weights its swap direction uses (DF a2b: encoder,
inter, decoder_b; LIAE b2a: encoder, inter_AB, decoder), stores every weight tensor of 2+ dims as
int8 with one fp32 scale per output channel (1-D tensors as fp16), and writes them, with the
checkpoint's other fields, summary.json and history.csv, into SLIM_DIR/slim_K.pt chunks of at
most --chunk-mib (about 8.5 MiB per `live` run instead of 21 MiB of fp16). `unpack` rebuilds
RUNS_DIR/L/checkpoint.pt (fp32, no optimiser state; unused parts at their initial values) that
`swapstream export --direction D` reads. Per-channel int8 weights change a 128 px render by
about as much as INT8 export itself does; every run carried this way is changed alike.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from swapstream.trainer.checkpoint import load_checkpoint, save_checkpoint
from swapstream.trainer.config import ModelConfig
from swapstream.trainer.model import build_model

USED = {"df": ("encoder.", "inter.", "decoder_b."), "liae": ("encoder.", "inter_AB.", "decoder.")}


def quantize(t: torch.Tensor) -> dict:
    if not t.is_floating_point():
        return {"raw": t}
    if t.dim() < 2:
        return {"half": t.half()}
    flat = t.float().reshape(t.shape[0], -1)
    scale = flat.abs().amax(1).clamp_min(1e-12) / 127
    q = torch.round(flat / scale[:, None]).clamp(-127, 127).to(torch.int8)
    return {"q": q.reshape(t.shape), "scale": scale}


def dequantize(d: dict) -> torch.Tensor:
    if "raw" in d:
        return d["raw"]
    if "half" in d:
        return d["half"].float()
    return d["q"].float() * d["scale"].reshape(-1, *([1] * (d["q"].dim() - 1)))


def pack(runs: Path, labels: list[str], out: Path, chunk_mib: float) -> list[Path]:
    entries = []
    for label in labels:
        if not (runs / label / "checkpoint.pt").is_file():
            print(f"{label}: no checkpoint, skipped")
            continue
        state = load_checkpoint(runs / label / "checkpoint.pt")
        keep = USED[state["model_config"]["arch"]]
        weights = {k: quantize(v) for k, v in state.pop("model").items() if k.startswith(keep)}
        state.pop("optimizer")
        texts = {
            n: (runs / label / n).read_text() for n in ("summary.json", "history.csv") if (runs / label / n).is_file()
        }
        for name, w in weights.items():
            entries.append((label, name, w))
        entries.append((label, "__state__", {"state": state, "texts": texts}))
    out.mkdir(parents=True, exist_ok=True)
    limit, chunks, current, size = chunk_mib * 2**20, [], [], 0
    for label, name, w in entries:
        n = sum(v.numel() * v.element_size() for v in w.values() if isinstance(v, torch.Tensor))
        if current and size + n > limit:
            chunks.append(current)
            current, size = [], 0
        current.append((label, name, w))
        size += n
    chunks.append(current)
    paths = []
    for k, chunk in enumerate(chunks):
        paths.append(out / f"slim_{k}.pt")
        torch.save(chunk, paths[-1])
    return paths


def unpack(slim: Path, runs: Path) -> list[Path]:
    weights: dict[str, dict] = {}
    extra: dict[str, dict] = {}
    for path in sorted(slim.glob("slim_*.pt")):
        for label, name, w in torch.load(path, map_location="cpu", weights_only=True):
            if name == "__state__":
                extra[label] = w
            else:
                weights.setdefault(label, {})[name] = dequantize(w)
    done = []
    for label, rest in extra.items():
        state = {k: v for k, v in rest["state"].items() if k not in ("format", "version")}
        model = build_model(ModelConfig.from_dict(state["model_config"])).state_dict()
        missing = set(weights[label]) - set(model)
        if missing:
            raise SystemExit(f"{label}: unknown weights {sorted(missing)[:3]}")
        model.update(weights[label])
        state.update(model=model, optimizer={})
        (runs / label).mkdir(parents=True, exist_ok=True)
        save_checkpoint(runs / label / "checkpoint.pt", state)
        for name, text in rest["texts"].items():
            (runs / label / name).write_text(text)
        done.append(runs / label / "checkpoint.pt")
    return done


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=("pack", "unpack"))
    p.add_argument("source", type=Path, help="pack: folder of the runs; unpack: folder of slim_*.pt")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--labels", nargs="+", default=[])
    p.add_argument("--chunk-mib", type=float, default=15.0)
    args = p.parse_args()
    if args.action == "pack":
        paths = pack(args.source, args.labels, args.output, args.chunk_mib)
    else:
        paths = unpack(args.source, args.output)
    for path in paths:
        print(f"{path} {path.stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
