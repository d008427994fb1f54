"""Sign a finished output with a C2PA manifest saying its faces were swapped by swapstream.

The manifest (one per file): an actions assertion (`c2pa.opened` on the source, then
`c2pa.edited` with IPTC digitalSourceType compositeWithTrainedAlgorithmicMedia and swapstream
and its version as software agent; a camera recording is `c2pa.created` with that type), the
source as a `parentOf` ingredient named by its file name and SHA-256 (never its local path),
and a swapstream assertion with the model's SHA-256, its face type and the metadata label.

`Sealer.publish(tmp, final)` is what a writer calls instead of renaming its finished temporary
file: the signed copy is written to a second temporary file beside FINAL and renamed over it,
then the first is removed, so FINAL only ever appears complete and signed. Parts of a segmented,
resumed or Ray convert are joined first and the joined file is signed once, so every way of
running a convert gives equally valid credentials. Signing never loses an output: if it fails
the file is published unsigned (it keeps its metadata label) and the reason is logged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from swapstream import __version__
from swapstream.common.choices import SYNTHETIC_LABEL
from swapstream.credentials.identity import SigningIdentity

log = logging.getLogger(__name__)

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
SWAP_ASSERTION = "org.swapstream.swap"
GENERATOR = "swapstream"
# File suffix -> MIME type of the containers C2PA can hold a manifest in (c2pa-python 0.38).
SIGNABLE = {
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}


def mime_of(path: Path) -> str | None:
    """The MIME type C2PA signs PATH as, or None for a container it cannot hold a manifest in."""
    return SIGNABLE.get(Path(path).suffix.lower())


def file_sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass(frozen=True)
class SwapFacts:
    """What the manifest says about how a file was made. source: the input video or image (None:
    a camera); model_sha256/face_type: the swap model's."""

    source: Path | None
    model_sha256: str
    face_type: str


@dataclass
class Sealer:
    """Signs outputs with IDENTITY; the source's SHA-256 is computed once, at the first signing."""

    identity: SigningIdentity
    facts: SwapFacts
    _source_sha256: str | None = field(default=None, repr=False)

    def for_source(self, source: Path | None) -> Sealer:
        """The same signer and model for another input (a folder of videos: one per video)."""
        source = Path(source) if source is not None and Path(source).is_file() else None
        return Sealer(self.identity, dataclasses.replace(self.facts, source=source))

    def _source_hash(self) -> str:
        if self._source_sha256 is None:
            self._source_sha256 = file_sha256(self.facts.source)
        return self._source_sha256

    def manifest(self, title: str, mime: str) -> dict:
        """The manifest definition (c2pa Builder JSON) of an output named TITLE."""
        agent = {"name": GENERATOR, "version": __version__}
        edit = {
            "digitalSourceType": DIGITAL_SOURCE_TYPE,
            "softwareAgent": agent,
            "description": "faces replaced by a trained face-swap model",
        }
        facts = {"synthetic": True, "label": SYNTHETIC_LABEL, "model_sha256": self.facts.model_sha256}
        facts["face_type"] = self.facts.face_type
        ingredients = []
        if self.facts.source is not None and self.facts.source.is_file():
            source = {"name": self.facts.source.name, "sha256": self._source_hash()}
            facts["source"] = source
            ingredients.append(
                {
                    "title": source["name"],
                    "format": mime_of(self.facts.source) or "application/octet-stream",
                    "relationship": "parentOf",
                    "instance_id": f"sha256:{source['sha256']}",
                    "label": "source",
                }
            )
            opened = {"action": "c2pa.opened", "parameters": {"ingredientIds": ["source"]}}
            actions = [opened, edit | {"action": "c2pa.edited"}]
        else:
            actions = [edit | {"action": "c2pa.created"}]
        return {
            "claim_generator_info": [agent],
            "title": title,
            "format": mime,
            "ingredients": ingredients,
            "assertions": [
                {"label": "c2pa.actions.v2", "data": {"actions": actions}},
                {"label": SWAP_ASSERTION, "data": facts},
            ],
        }

    def _sign(self, title: str, mime: str, source, dest) -> None:
        import c2pa

        me = self.identity
        info = c2pa.C2paSignerInfo(alg=me.alg.encode(), sign_cert=me.chain_pem, private_key=me.key_pem, ta_url=None)
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(self.manifest(title, mime)) as builder:
            builder.sign(signer, mime, source, dest)

    def publish(self, tmp: Path, final: Path) -> None:
        """Sign the finished file TMP into FINAL (see the module docstring); TMP is gone after."""
        tmp, final = Path(tmp), Path(final)
        mime = mime_of(final)
        if mime is None:
            os.replace(tmp, final)  # the user was told at the start (flags.warn_unsignable)
            return
        fd, signed_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".signing{final.suffix}", dir=final.parent)
        signed = Path(signed_name)
        try:
            with os.fdopen(fd, "w+b") as dest, open(tmp, "rb") as source:
                self._sign(final.name, mime, source, dest)
                dest.flush()
                os.fsync(dest.fileno())
            os.chmod(signed, os.stat(tmp).st_mode & 0o777)
            os.replace(signed, final)
            tmp.unlink()
        except Exception as e:  # never lose the output: publish it unsigned, say why
            signed.unlink(missing_ok=True)
            if tmp.exists():
                os.replace(tmp, final)
            log.error("%s: could not be signed (%s); written with its metadata label only", final, e)
        except BaseException:  # Ctrl-C while signing: the finished output still goes into place
            signed.unlink(missing_ok=True)
            if tmp.exists():
                os.replace(tmp, final)
            raise

    def sign_image(self, encoded: bytes, dest: Path) -> None:
        """Write the encoded image (PNG/JPEG bytes) to DEST, signed (DEST: a new file in a
        temporary output folder, which is renamed into place as a whole)."""
        mime = mime_of(dest)
        with open(dest, "w+b") as out:
            try:
                self._sign(dest.name, mime, io.BytesIO(encoded), out)
            except Exception as e:
                out.seek(0)
                out.truncate()
                out.write(encoded)
                log.error("%s: could not be signed (%s); written unsigned", dest, e)


def check_identity(identity: SigningIdentity) -> None:
    """Sign a 1x1 PNG in memory: a certificate C2PA refuses fails here, before any work."""
    import c2pa
    import cv2
    import numpy as np

    from swapstream.common.errors import UserError

    _, png = cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))
    probe = Sealer(identity, SwapFacts(None, "", ""))
    try:
        probe._sign("probe.png", "image/png", io.BytesIO(png.tobytes()), io.BytesIO())
    except c2pa.C2paError as e:
        raise UserError(f"{identity.where}: C2PA refuses to sign with this certificate ({e})") from None
