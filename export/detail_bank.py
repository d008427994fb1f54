"""The model's detail bank: a few of the target's own faces beside the model, for --detail.

MODEL.detail is a faceset (swapstream.common.faceset: JSON manifest, JPEG faces, PNG masks, no
pickle) of up to TARGET_FACES faces of the identity the model renders, chosen to cover every pose
and expression its faceset holds (engine.face.neighbours.spread_subset). The engine adds the
detail of the face nearest in pose and expression among the first BANK_FACES of that spread to
each swapped face (engine.image.target_detail), so the fine structure the viewer sees is the
target's, not the driver's, and lays over its mouth the mouth of the face whose lips fit the
driver's best (engine.image.target_mouth) and, through blinks, its own shut eyes
(engine.image.target_eyes). The bank is written to a temporary folder beside the
model and renamed when complete.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from pathlib import Path

from swapstream.engine.face.neighbours import faceset_features, spread_subset
from swapstream.engine.image.target_detail import BANK_FACES, DETAIL_BANK_SUFFIX
from swapstream.engine.image.target_parts import TARGET_FACES

from swapstream.common.faceset import Faceset


def bank_path(model: Path) -> Path:
    """MODEL.onnx -> MODEL.detail (the folder the engine looks for beside the model)."""
    return Path(model).with_suffix(DETAIL_BANK_SUFFIX)


def write_detail_bank(target_faceset: Path, model: Path, count: int = max(BANK_FACES, TARGET_FACES)) -> Path:
    """Copy up to `count` spread faces of target_faceset into bank_path(model), replacing an older
    bank there; returns the bank's path. UserError (from Faceset.open) on a bad faceset."""
    source = Faceset.open(target_faceset)
    keep = spread_subset(faceset_features(source.faces), count)
    final = bank_path(model)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        bank = Faceset.open_or_create(staging, source.face_type, source.size)
        for n, i in enumerate(keep):
            record = source.faces[int(i)]
            record = dataclasses.replace(record, file=f"faces/{n:04d}.jpg", mask=f"masks/{n:04d}.png")
            bank.write_face(record, source.image(int(i)), source.mask(int(i)))
        bank.save()
        old = final.with_name(final.name + ".old")
        if final.exists():
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
