"""The content-credential flags of the commands that write outputs (convert, live, studio), and
the one function that turns them (and the engine config's credentials section) into a Sealer."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from swapstream.common.choices import CREDENTIAL_MODE_HELP, CREDENTIAL_MODES, WATERMARK_MODE_HELP, describe
from swapstream.common.errors import UserError

log = logging.getLogger(__name__)

HELP = """\
Every output is signed with a C2PA manifest saying its faces are synthetic (model hash, source
file name and hash) and every written frame carries an invisible watermark; `swapstream verify
FILE` checks both. Without --sign-cert/--sign-key a per-user key and certificate are made once
under ~/.config/swapstream/credentials: their signature binds the content, but verifiers call the
signer "untrusted" (it is on no C2PA trust list). An organisation's certificate from a CA on that
list is shown as trusted. MP4/MOV/M4V, AVI and PNG/JPEG hold a manifest; MKV cannot."""


def add_credential_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("content credentials", HELP)
    g.add_argument(
        "--credentials",
        choices=CREDENTIAL_MODES,
        default=None,
        help=f"{describe(CREDENTIAL_MODES, CREDENTIAL_MODE_HELP)}; default from configs/engine.yaml",
    )
    g.add_argument(
        "--sign-cert",
        type=Path,
        default=None,
        metavar="CHAIN.pem",
        help="your signing certificate chain (PEM, signer first; key usage digitalSignature, extended key "
        "usage emailProtection or documentSigning)",
    )
    g.add_argument("--sign-key", type=Path, default=None, metavar="KEY.pem", help="its private key (unencrypted PEM)")
    g.add_argument(
        "--watermark",
        choices=CREDENTIAL_MODES,
        default=None,
        help=f"{describe(CREDENTIAL_MODES, WATERMARK_MODE_HELP)}: a swapstream marker and the model's id that "
        "survive re-encoding, downscaling and crops, and a stripped manifest; default from configs/engine.yaml",
    )


def warn_unsignable(output: Path) -> None:
    """One line, before the work, when OUTPUT's container cannot carry a manifest."""
    from swapstream.credentials.seal import mime_of

    if Path(output).suffix and mime_of(output) is None:
        log.warning(
            "%s: %s files cannot carry content credentials (C2PA), so it gets the metadata label only: "
            "use .mp4/.mov, or .avi for lossless FFV1",
            output,
            Path(output).suffix,
        )


def sealer_from_args(args: argparse.Namespace, cfg, source: Path | None, model, model_sha256: str | None = None):
    """The Sealer that signs this command's outputs, or None with --credentials off (one warning
    line). cfg: the EngineConfig; source: the input file (None: a camera); model: the SwapModel
    (model_sha256: its file's hash where the caller has it). Refuses a certificate that does not
    match its key, or that C2PA would not sign with, before any work."""
    from swapstream.credentials.identity import load_identity, local_identity
    from swapstream.credentials.seal import Sealer, SwapFacts, check_identity, file_sha256

    settings = cfg.credentials
    mode = getattr(args, "credentials", None) or ("on" if settings.enabled else "off")
    if mode == "off":
        log.warning("--credentials off: outputs are not signed as synthetic media (they keep the metadata label)")
        return None
    cert = getattr(args, "sign_cert", None) or (Path(settings.sign_cert) if settings.sign_cert else None)
    key = getattr(args, "sign_key", None) or (Path(settings.sign_key) if settings.sign_key else None)
    if (cert is None) != (key is None):
        raise UserError("--sign-cert and --sign-key go together (a certificate chain and its private key)")
    identity = load_identity(cert, key) if cert is not None else local_identity()
    check_identity(identity)
    facts = SwapFacts(None, model_sha256 or file_sha256(model.path), model.contract.face_type or "")
    return Sealer(identity, facts).for_source(source)


def local_sealer(source: Path | None, model_path: Path):
    """A Sealer with the per-user identity for MODEL_PATH's outputs (the demo's side-by-side video)."""
    from swapstream.credentials.identity import local_identity
    from swapstream.credentials.seal import Sealer, SwapFacts, file_sha256
    from swapstream.engine.runtime.swap_model import inspect_model

    facts = SwapFacts(None, file_sha256(model_path), inspect_model(model_path).face_type or "")
    return Sealer(local_identity(), facts).for_source(source)


def output_marks(args: argparse.Namespace, cfg, source: Path | None, model, model_sha256: str | None = None):
    """(Sealer or None, Watermark or None) of a command's outputs: see sealer_from_args; the
    watermark follows cfg.output.watermark (--watermark)."""
    from swapstream.credentials.seal import file_sha256
    from swapstream.engine.image.watermark import watermark_for

    sealer = sealer_from_args(args, cfg, source, model, model_sha256)
    model_sha256 = sealer.facts.model_sha256 if sealer is not None else model_sha256 or file_sha256(model.path)
    return sealer, watermark_for(cfg.output.watermark, model_sha256)
