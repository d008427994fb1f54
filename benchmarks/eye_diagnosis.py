"""Why a swap stays open-eyed: what a checkpoint's decoders do with closed eyes, and whether the
encoder's code carries the lid state (issue #28, item 4).

Usage:
    python benchmarks/eye_diagnosis.py CHECKPOINT.pt --a FACESET_A --b FACESET_B \\
        [--driver FACESET ...] [--json OUT.json]

For each faceset's faces (the trainer's crops: the model input at its input resolution, no
augmentation) it renders B->B, A->A and A->B (and X->B for every --driver faceset) in fp32 and
measures the eye openness (engine.face.openness, what eval correlates) of each render with
FaceMesh on the decoded face, enlarged to 256 px. The ground truth is the same FaceMesh on the
faceset's own crop at the model's output size, so render and truth are read alike. Faces are
classed closed / open as `swapstream info` does (below 0.4 of the person's 90th-percentile
opening: closed; above 0.75: open). Printed per render: mean openness of closed- and open-eyed
faces, their gap, and Pearson r between truth and render.

With --bank, A->B and X->B also go through the target's detail (engine.image.target_detail: a
bank of B's faceset, the nearest face warped onto each driving face) without and with the eye band.

The code probe: ridge regression from the bottleneck (inter.dense1, ae_dims wide) to eye openness,
fitted on B's faces and scored (r) on A's and on each driver's faces; and the mean distance of
A's closed-eye codes to B's closed- and open-eyed codes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import torch
from swapstream.engine.face.landmarks import FaceMesh
from swapstream.engine.face.openness import eye_openness, eye_states
from swapstream.engine.image import target_detail
from swapstream.engine.image.target_detail import TargetDetail, load_detail_bank
from swapstream.trainer.checkpoint import load_checkpoint, model_from_checkpoint
from swapstream.trainer.data import load_faces

from swapstream.common.faceset import Faceset

READ_SIZE = 256  # FaceMesh reads the decoded face enlarged to this size


def read_openness(mesh: FaceMesh, faces_bgr: np.ndarray) -> np.ndarray:
    """(N,) eye openness of (N, S, S, 3) uint8 BGR faces; NaN where FaceMesh finds no face."""
    out = np.full(len(faces_bgr), np.nan)
    for i, face in enumerate(faces_bgr):
        big = cv2.resize(face, (READ_SIZE, READ_SIZE), interpolation=cv2.INTER_CUBIC)
        found = mesh.process(big)
        if found:
            out[i] = eye_openness(found[0].points)
    return out


@torch.no_grad()
def render(model, inputs: np.ndarray, identity: str, batch: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(faces (N, O, O, 3) uint8 BGR, masks (N, O, O) float32 [0, 1], codes (N, ae_dims) float32)
    of inputs (N, R, R, 3) uint8 BGR."""
    faces, masks, codes = [], [], []
    for i in range(0, len(inputs), batch):
        x = torch.from_numpy(inputs[i : i + batch]).permute(0, 3, 1, 2).float() / 255
        codes.append(model.inter.dense1(model.encoder(x)).numpy())
        face, mask = model.render(x, identity)
        faces.append((face.permute(0, 2, 3, 1).clamp(0, 1) * 255 + 0.5).byte().numpy())
        masks.append(mask[:, 0].numpy())
    return np.concatenate(faces), np.concatenate(masks), np.concatenate(codes)


def with_target_detail(bank: TargetDetail, faces, masks, landmarks, yaw, pitch, eye_cells: float) -> np.ndarray:
    """The renders as the blend pastes them with the target's detail (default amount 1), at the
    render's size: the bank face nearest each driving face (landmarks (N, 478, 2) px of the
    render) warped onto it, with the eye band EYE_BAND_CELLS = eye_cells."""
    default, target_detail.EYE_BAND_CELLS = target_detail.EYE_BAND_CELLS, eye_cells
    size = faces.shape[1]
    out = []
    try:
        for face, mask, pts, y, p in zip(faces, masks, landmarks, yaw, pitch, strict=True):
            big = bank.sharpen(face, pts, mask, (float(y), float(p)), 1.0)
            out.append(cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA))
    finally:
        target_detail.EYE_BAND_CELLS = default  # the module's default again for the next caller
    return np.stack(out)


def summary(truth: np.ndarray, rendered: np.ndarray, classes: np.ndarray) -> dict:
    ok = ~np.isnan(rendered) & ~np.isnan(truth)
    closed, opened = ok & (classes == 0), ok & (classes == 2)
    r = float(np.corrcoef(truth[ok], rendered[ok])[0, 1]) if ok.sum() > 2 else None
    return {
        "faces": int(ok.sum()),
        "closed_faces": int(closed.sum()),
        "truth_closed": float(np.mean(truth[closed])) if closed.any() else None,
        "truth_open": float(np.mean(truth[opened])) if opened.any() else None,
        "render_closed": float(np.mean(rendered[closed])) if closed.any() else None,
        "render_open": float(np.mean(rendered[opened])) if opened.any() else None,
        "r": r,
    }


def pick(classes: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices: every closed face (up to per_class) and up to per_class of the others."""
    closed = np.flatnonzero(classes == 0)
    rest = np.flatnonzero(classes != 0)
    chosen = [rng.permutation(closed)[:per_class], rng.permutation(rest)[:per_class]]
    return np.sort(np.concatenate(chosen))


def ridge(x: np.ndarray, y: np.ndarray, alpha: float = 10.0):
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    w = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return lambda q: ((q - mean) / scale) @ w + y.mean()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--driver", action="append", default=[])
    ap.add_argument("--per-class", type=int, default=120)
    ap.add_argument("--bank", action="store_true", help="also A->B with the target's detail (a bank of B's faces)")
    ap.add_argument("--eye-bands", type=float, nargs="+", default=[0.0, target_detail.EYE_BAND_CELLS],
                    help="EYE_BAND_CELLS values to try with --bank")  # fmt: skip
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    state = load_checkpoint(args.checkpoint)
    cfg, model = model_from_checkpoint(state, args.checkpoint)
    model.eval()
    mesh = FaceMesh(static=True)
    rng = np.random.default_rng(0)
    report = {"checkpoint": str(args.checkpoint), "iteration": state["iteration"], "renders": {}}
    codes = {}
    sets = {"A": args.a, "B": args.b} | {Path(d).name: d for d in args.driver}
    bank = None
    if args.bank:
        detail = load_detail_bank(Path(args.b), cfg.face_type, cfg.output_resolution)
        bank = TargetDetail(detail, cfg.input_resolution)
    for name, path in sets.items():
        faceset = Faceset.open(path)
        faces = load_faces(faceset, cfg.input_resolution, cfg.output_resolution)
        stored = faces.eyes.astype(np.float64)
        idx = pick(eye_states(stored), args.per_class, rng)
        truth = read_openness(mesh, faces.images[idx])
        classes = eye_states(stored)[idx]
        targets = {"A": ("a", "b"), "B": ("b", "a")}.get(name, ("b",))
        for identity in targets:
            rendered, masks, code = render(model, faces.model_inputs[idx], identity)
            key = f"{name}->{identity.upper()}"
            report["renders"][key] = summary(truth, read_openness(mesh, rendered), classes)
            print(key, json.dumps(report["renders"][key]))
            if bank is not None and identity == "b" and name != "B":
                yaw = np.array([faceset.faces[i].yaw for i in idx])
                pitch = np.array([faceset.faces[i].pitch for i in idx])
                for cells in args.eye_bands:
                    detailed = with_target_detail(bank, rendered, masks, faces.landmarks[idx], yaw, pitch, cells)
                    k = f"{key} + target detail, eye band {cells:g}"
                    report["renders"][k] = summary(truth, read_openness(mesh, detailed), classes)
                    print(k, json.dumps(report["renders"][k]))
        codes[name] = (code, truth, classes)
    fit_x, fit_y, _ = codes["B"]
    ok = np.flatnonzero(~np.isnan(fit_y))
    half = np.zeros(len(fit_y), bool)
    half[ok[::2]] = True  # fitted on every other B face; B is scored on the other half
    probe = ridge(fit_x[half], fit_y[half])
    report["probe_r"] = {}
    for name, (x, y, classes) in codes.items():
        m = ~np.isnan(y) & ~half if name == "B" else ~np.isnan(y)
        report["probe_r"][name] = float(np.corrcoef(probe(x[m]), y[m])[0, 1])
        b_x, b_cls = codes["B"][0], codes["B"][2]
        mine = x[classes == 0]
        if name != "B" and len(mine):
            d_closed = np.linalg.norm(mine[:, None] - b_x[b_cls == 0][None], axis=2).mean()
            d_open = np.linalg.norm(mine[:, None] - b_x[b_cls == 2][None], axis=2).mean()
            report[f"{name}_closed_code_distance"] = {"to_B_closed": float(d_closed), "to_B_open": float(d_open)}
    print(json.dumps({k: v for k, v in report.items() if k != "renders"}, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
