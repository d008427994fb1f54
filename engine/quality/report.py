"""An EvalReport as a table for people, JSON for machines and a PNG of the per-frame curves.

Files are written to a temporary name in the destination folder and renamed when complete.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

from swapstream.engine.quality.evaluate import EvalReport
from swapstream.engine.quality.identity import SAME_PERSON_DISTANCE

from swapstream.common.atomic_files import atomic_open

REPORT_FORMAT = "swapstream-eval"
REPORT_VERSION = 1


def _clean(value: object) -> object:
    """JSON-safe copy: Paths as strings, NaN as null."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_dict(report: EvalReport) -> dict:
    d = asdict(report)
    d["config"].pop("progress")
    return _clean({"format": REPORT_FORMAT, "version": REPORT_VERSION, **d})


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "n/a" if value is None else format(value, fmt)


def format_table(report: EvalReport) -> str:
    """The human summary: one metric per line, grouped, with the caveats next to the figures."""
    rows: list[tuple[str, str]] = [
        ("frames (measured)", f"{report.frames} ({report.frames_measured}, every {report.config.every})"),
        ("faces driving / swapped", f"{report.driving_faces} / {report.swapped_faces}"),
        ("swapped face lost", str(report.swapped_faces_lost)),
    ]
    idt = report.identity
    if idt is None:
        rows.append(("identity", f"skipped: {report.identity_skipped}"))
    else:
        verdict = "trusted" if idt.trusted else "NOT trusted: the judge barely tells these two people apart"
        rows += [
            ("identity: nearer target than driver", f"{idt.share_nearer_target:.1%} of {idt.frames_judged} frames"),
            (
                "identity: recognised as target",
                f"{idt.share_recognised_as_target:.1%} (distance to target < {SAME_PERSON_DISTANCE})",
            ),
            (
                "identity: distance to target / driving",
                f"{idt.mean_distance_to_target:.3f} / {idt.mean_distance_to_driving:.3f}",
            ),
            ("judge: identity distance", f"{idt.identity_distance:.3f}"),
            ("judge: spread target / driving", f"{idt.target_spread:.3f} / {idt.driving_spread:.3f}"),
            ("judge: separation", f"{idt.separation:.2f} ({verdict})"),
        ]
    ex = report.expression
    if ex is None:
        rows.append(("expression", "skipped: no frame with a face in both videos"))
    else:
        rows += [
            ("expression: mouth / eye correlation", f"{_num(ex.mouth_correlation)} / {_num(ex.eye_correlation)}"),
            (
                "expression: mouth in the driver's state",
                f"{ex.mouth_state_agreement:.0%} of frames (closed / parted / open / wide open; openings "
                f"{ex.mouth_opening_error:.2f} apart on average)",
            ),
            (
                "expression: the driver's closed eyes closed",
                "the driver never closes its eyes"
                if ex.closed_eyes_followed is None
                else f"in {ex.closed_eyes_followed:.0%} of those {ex.driver_closed_eye_frames} frames",
            ),
            (
                "pose error yaw / pitch / roll (deg)",
                f"{ex.yaw_error_deg:.2f} / {ex.pitch_error_deg:.2f} / {ex.roll_error_deg:.2f}",
            ),
        ]
    st, bg = report.stability, report.background
    rows += [
        ("face change driving / swapped", f"{st.driving_change:.2f} / {st.swapped_change:.2f} levels per frame"),
        ("flicker ratio", _num(st.flicker_ratio, ".2f")),
        (
            "sharpness ratio (swapped / driving)",
            f"{_num(report.sharpness.ratio, '.2f')} (high-frequency energy inside the face, "
            f"{report.sharpness.frames_compared} frames; counts the driver's detail pasted in)",
        ),
        *_leakage_rows(report),
        (
            "background changed",
            f"{bg.changed_share:.2%} mean, {bg.max_changed_share:.2%} max (> {bg.threshold} levels; "
            f"mean |diff| {bg.mean_abs_diff:.2f})",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def _leakage_rows(report: EvalReport) -> list[tuple[str, str]]:
    lk = report.leakage
    if not lk.frames_compared:
        return [("fine structure", "skipped: no driving face")]
    rows = [
        (
            "own sharpness (vs target's faces)",
            f"{_num(lk.own_sharpness, '.2f')} (band energy the driver's band does not explain; whole band "
            f"{_num(lk.energy_vs_target, '.2f')}; {lk.crop_size} px crop, {lk.frames_compared} frames)",
        )
    ]
    for part, p in lk.parts.items():
        rows.append(
            (
                f"fine structure {part}: nearer target",
                f"{p.share_nearer_target:.0%} of frames (r with target {p.r_target:.2f}, with driver {p.r_driver:.2f})",
            )
        )
    return rows


def write_json(report: EvalReport, path: Path) -> None:
    with atomic_open(path, "w") as f:
        json.dump(to_dict(report), f, indent=1)


def write_plot(report: EvalReport, path: Path) -> None:
    """PNG with one panel per metric, x = frame index."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    c = report.curves
    fig = Figure(figsize=(10, 20), layout="constrained")
    axes = fig.subplots(9, 1, sharex=True)
    panels = (
        ("identity distance (dlib)", (("to target", c.distance_to_target), ("to driving", c.distance_to_driving))),
        ("mouth opening (eye-corner distances)", (("driving", c.mouth_driving), ("swapped", c.mouth_swapped))),
        ("eye opening (eye-corner distances)", (("driving", c.eyes_driving), ("swapped", c.eyes_swapped))),
        ("head-pose error (deg, mean of yaw/pitch/roll)", (("swapped vs driving", c.pose_error_deg),)),
        ("face change per frame (levels)", (("driving", c.change_driving), ("swapped", c.change_swapped))),
        ("background pixels changed (%)", (("swapped vs driving", [100 * v for v in c.background_changed]),)),
        (
            "sharpness: high-frequency energy inside the face (levels^2)",
            (("driving", c.sharpness_driving), ("swapped", c.sharpness_swapped)),
        ),
        (
            "fine structure of eyes, brows, nose: r of the swapped band with",
            (("the driver's", c.detail_r_driver), ("the target's faces'", c.detail_r_target)),
        ),
        ("own sharpness (band energy the driver's does not explain / the target's)", (("swapped", c.own_sharpness),)),
    )
    for ax, (title, series) in zip(axes, panels, strict=True):
        for label, values in series:
            ax.plot(c.frame, values, label=label, linewidth=1)
        ax.set_title(title, fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("frame")
    if report.identity is None:
        axes[0].text(0.5, 0.5, f"identity skipped: {report.identity_skipped}", ha="center", transform=axes[0].transAxes)
    fig.suptitle(f"swapstream eval: {report.config.swapped.name} vs {report.config.driving.name}")
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png", dpi=80)
