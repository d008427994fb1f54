"""What a file's content credentials say, and whether they still match its content.

`verify_file(path)` -> Verdict: whether the file carries a C2PA manifest, made by swapstream or
not; whether it validates and its hard binding (the hash over the file's bytes outside the
manifest) still matches; the signer and whether it is on a trust list; what it says (synthetic,
digital source type, model hash, face type, source ingredient); and the container's metadata
label. Exit codes: 0 verified, 1 altered after signing (or its manifest is damaged), 3 no
credentials, 2 bad input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from swapstream.credentials.seal import GENERATOR, SWAP_ASSERTION

EXIT_VERIFIED, EXIT_ALTERED, EXIT_BAD_INPUT, EXIT_NONE = 0, 1, 2, 3
UNTRUSTED = "signingCredential.untrusted"
# Validation failures that mean the bytes changed after signing (hard binding, or assertions).
_HASH_MISMATCH = ("Hash.mismatch", "hashedURI.mismatch", "claimSignature.mismatch")


@dataclass
class Verdict:
    """One file's result; status: verified, altered, none or bad-input (see exit_code)."""

    path: str
    status: str
    reason: str = ""
    credentials: bool = False
    by_swapstream: bool = False
    hard_binding: str = ""  # match, mismatch ('' without credentials)
    signer: dict = field(default_factory=dict)  # name, organisation, serial (decimal), trusted
    synthetic: bool = False
    digital_source_type: str = ""
    software: str = ""
    model_sha256: str = ""
    face_type: str = ""
    source: dict = field(default_factory=dict)  # name, sha256
    failures: list[str] = field(default_factory=list)
    watermark: str = ""  # found / not found, and the model id it carries
    label: str | None = None

    @property
    def exit_code(self) -> int:
        return {"verified": EXIT_VERIFIED, "altered": EXIT_ALTERED, "none": EXIT_NONE}.get(self.status, EXIT_BAD_INPUT)

    def to_json(self) -> dict:
        return asdict(self) | {"exit_code": self.exit_code}


def container_label(path: Path) -> tuple[bool, str | None]:
    """(readable as media, the container's comment/description label or None)."""
    import av

    try:
        with av.open(str(path)) as c:
            meta = {k.lower(): v for k, v in c.metadata.items()}
    except (av.error.FFmpegError, ValueError, OSError):
        return False, None
    return True, meta.get("comment") or meta.get("description")


SAMPLED_FRAMES = 16
_IMAGES = (".png", ".jpg", ".jpeg", ".webp")


def sampled_frames(path: Path, count: int = SAMPLED_FRAMES) -> list:
    """Up to COUNT BGR frames spread over the video (an image: itself); [] when unreadable."""
    import av
    import cv2

    if path.suffix.lower() in _IMAGES:
        image = cv2.imread(str(path))
        return [] if image is None else [image]
    frames = []
    try:
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            total = stream.frames or 0
            if total and total <= 30 * count:  # short: decode it all, keep every k-th
                step = max(1, total // count)
                decoded = (f for i, f in enumerate(c.decode(stream)) if i % step == 0)
            else:  # long: one frame after each of COUNT evenly spaced seeks
                span = c.duration or 0
                decoded = (f for k in range(count) for f in _after_seek(c, stream, span * k // count))
            for frame in decoded:
                frames.append(frame.to_ndarray(format="bgr24"))
                if len(frames) == count:
                    break
    except (av.error.FFmpegError, ValueError, IndexError):
        return frames
    return frames


def _after_seek(container, stream, offset: int):
    container.seek(offset)
    return [next(container.decode(stream), None)] if offset >= 0 else []


def find_watermark(path: Path) -> tuple[int, bytes | None]:
    """(frames looked at, the payload found or None)."""
    from swapstream.engine.image.watermark import detect

    frames = [f for f in sampled_frames(path) if f is not None]
    return len(frames), detect(frames) if frames else None


def watermark_text(looked: int, payload: bytes | None, model_sha256: str) -> str:
    from swapstream.engine.image.watermark import model_id

    if not looked:
        return "not checked (no frame decoded)"
    if payload is None:
        return f"not found (in {looked} frames)"
    mark = model_id(payload)
    agrees = ""
    if model_sha256:
        agrees = ", the manifest's model" if model_sha256.startswith(mark) else ", NOT the manifest's model"
    return f"found: swapstream marker, model id {mark}{agrees}"


def _read_manifest(path: Path):
    """(reader, None) or (None, why there is nothing to read)."""
    import c2pa

    try:
        return c2pa.Reader(str(path)), ""
    except c2pa.C2paError.ManifestNotFound:
        return None, "no C2PA manifest in the file"
    except c2pa.C2paError.NotSupported:
        return None, f"its format ({path.suffix or 'no suffix'}) cannot carry C2PA credentials"


def _fill(verdict: Verdict, reader) -> None:
    manifest = reader.get_active_manifest() or {}
    results = reader.get_validation_results() or {}
    failures = [f["code"] for f in results.get("activeManifest", {}).get("failure", [])]
    verdict.credentials = True
    verdict.failures = [c for c in failures if c != UNTRUSTED]
    verdict.hard_binding = "mismatch" if any(c.endswith(_HASH_MISMATCH) for c in failures) else "match"
    info = manifest.get("signature_info", {})
    verdict.signer = {"name": info.get("common_name", ""), "organisation": info.get("issuer", "")}
    verdict.signer["serial"] = info.get("cert_serial_number", "")
    verdict.signer["trusted"] = UNTRUSTED not in failures
    generators = manifest.get("claim_generator_info", [])
    verdict.by_swapstream = any(g.get("name") == GENERATOR for g in generators)
    for assertion in manifest.get("assertions", []):
        data = assertion.get("data", {})
        if assertion.get("label", "").startswith("c2pa.actions"):
            for action in data.get("actions", []):
                if action.get("digitalSourceType"):
                    verdict.digital_source_type = action["digitalSourceType"]
                    agent = action.get("softwareAgent", {})
                    verdict.software = f"{agent.get('name', '')} {agent.get('version', '')}".strip()
        elif assertion.get("label") == SWAP_ASSERTION:
            verdict.synthetic = bool(data.get("synthetic"))
            verdict.model_sha256 = data.get("model_sha256", "")
            verdict.face_type = data.get("face_type", "")
            verdict.source = data.get("source", {})
    verdict.synthetic = verdict.synthetic or "TrainedAlgorithmicMedia" in verdict.digital_source_type
    if verdict.failures:
        verdict.status = "altered"
        verdict.reason = "content or manifest changed after signing: " + ", ".join(verdict.failures)
    else:
        verdict.status, verdict.reason = "verified", "the manifest validates and matches the content"


def verify_file(path: Path) -> Verdict:
    import c2pa

    path = Path(path)
    if not path.is_file():
        problem = "no such file" if not path.exists() else "not a regular file"
        return Verdict(str(path), "bad-input", problem)
    media, label = container_label(path)
    verdict = Verdict(str(path), "none", label=label)
    mark = find_watermark(path)
    verdict.watermark = watermark_text(*mark, "")
    try:
        reader, why = _read_manifest(path)
    except c2pa.C2paError as e:  # a manifest is there but cannot be parsed: damaged after signing
        verdict.credentials, verdict.status = True, "altered"
        verdict.reason = f"its manifest is damaged ({e})"
        return verdict
    if reader is None:
        if not media and "cannot carry" in why:
            return Verdict(str(path), "bad-input", "not a video or image file")
        verdict.reason = why
        return verdict
    with reader:
        _fill(verdict, reader)
    verdict.watermark = watermark_text(*mark, verdict.model_sha256)
    return verdict


def report_lines(v: Verdict) -> list[str]:
    """The human-readable report of one file."""
    if v.status == "bad-input":
        return [f"{v.path}: {v.reason}"]
    head = {"verified": "VERIFIED", "altered": "ALTERED", "none": "NO CREDENTIALS"}[v.status]
    lines = [f"{v.path}: {head}: {v.reason}"]
    if v.credentials:
        trust = "trusted" if v.signer.get("trusted") else "untrusted (on no C2PA trust list; the signature still binds)"
        lines.append(f"  signer: {v.signer.get('name')} / {v.signer.get('organisation')}, {trust}")
        lines.append(f"  made by swapstream: {'yes' if v.by_swapstream else 'no'}; hard binding: {v.hard_binding}")
        what = "synthetic (faces swapped)" if v.synthetic else "not declared synthetic"
        source_type = v.digital_source_type or "no digital source type"
        lines.append(f"  says: {what}; {source_type}; software {v.software or '-'}")
        if v.model_sha256:
            lines.append(f"  model sha256 {v.model_sha256}, face type {v.face_type}")
        if v.source:
            lines.append(f"  source: {v.source.get('name')} (sha256 {v.source.get('sha256')})")
    lines.append(f"  watermark: {v.watermark}")
    lines.append(f"  metadata label: {v.label!r}" if v.label else "  metadata label: none")
    return lines
