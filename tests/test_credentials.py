"""Content credentials (issue 31): every output of convert (plain, resumed after a real interrupt,
on Ray, frame folders) and of live --record carries a C2PA manifest that `swapstream verify`
validates; a flipped byte of video data reads as altered, a re-muxed copy as carrying none; the
user's certificate signs when given and is refused when it does not match its key; the per-user
key is private; nothing goes to the network.

The clip: 60 frames of d18 with a keyframe every 15 (4 segments at --segment-seconds 0.5),
swapped by the colour-inverting contract model.
"""

from __future__ import annotations

import json
import signal
import socket
import stat
from pathlib import Path

import av
import pytest
from bad_input_media import Command
from conftest import media
from model_fixtures import write_invert_model
from video_fixtures import cut_with_audio

from swapstream.cli import main
from swapstream.common.choices import SYNTHETIC_LABEL
from swapstream.credentials.identity import CHAIN_NAME, KEY_NAME, config_folder, make_local_pair
from swapstream.credentials.seal import DIGITAL_SOURCE_TYPE, file_sha256

pytestmark = pytest.mark.media

SEGMENTS = ["--segment-seconds", "0.5", "--color", "none", "--providers", "cpu"]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("credentials")
    options = {"crf": "20", "g": "15", "keyint_min": "15"}
    cut_with_audio(media("d18.mp4"), root / "clip.mp4", 60, 0, options)
    write_invert_model(root / "invert.onnx", 96)
    return root


def convert(work: Path, out: Path, *extra) -> list[str]:
    return ["convert", work / "clip.mp4", "-m", work / "invert.onnx", "-o", out, *SEGMENTS, *extra]


def run_cli(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def verify(paths, capsys) -> tuple[int, list[dict]]:
    code, out, _err = run_cli(["verify", "--json", *paths], capsys)
    return code, json.loads(out)


def assert_swapstream_credentials(
    report: dict, work: Path, source: str | None = "clip.mp4", watermark: bool = False
) -> None:
    assert report["status"] == "verified" and report["exit_code"] == 0, report
    assert report["by_swapstream"] and report["synthetic"] and report["hard_binding"] == "match"
    assert report["digital_source_type"] == DIGITAL_SOURCE_TYPE
    assert report["software"].startswith("swapstream ")
    assert report["model_sha256"] == file_sha256(work / "invert.onnx") and report["face_type"] == "whole"
    assert report["signer"]["trusted"] is False  # the per-user certificate is on no trust list
    assert report["label"] == SYNTHETIC_LABEL
    model_id = file_sha256(work / "invert.onnx")[:8]
    if watermark:
        assert report["watermark"] == f"found: swapstream marker, model id {model_id}, the manifest's model", report
    else:  # off by default: it would change pixels outside the swapped faces
        assert report["watermark"].startswith("not found"), report
    if source:
        assert report["source"] == {"name": source, "sha256": file_sha256(work / source)}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_plain_convert_is_signed_and_tampering_or_stripping_is_reported(work, capsys, no_network, tmp_path):
    out = tmp_path / "plain.mp4"
    code, _, err = run_cli(convert(work, out, "--watermark", "on"), capsys)
    assert code == 0, err
    code, (report,) = verify([out], capsys)
    assert code == 0
    assert_swapstream_credentials(report, work, watermark=True)
    assert str(work) not in out.read_bytes().decode("latin-1"), "a local path was written into the output"
    folder = config_folder() / "credentials"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((folder / n).stat().st_mode) == 0o600 for n in (KEY_NAME, CHAIN_NAME))

    data = bytearray(out.read_bytes())
    data[data.find(b"mdat") + 4000] ^= 0x01  # one bit of the H.264 data
    altered = tmp_path / "altered.mp4"
    altered.write_bytes(data)
    code, (report,) = verify([altered], capsys)
    assert code == 1 and report["status"] == "altered" and report["hard_binding"] == "mismatch", report

    stripped = tmp_path / "stripped.mp4"
    with av.open(str(out)) as src, av.open(str(stripped), "w") as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                dst.mux(packet)
    code, (report,) = verify([stripped], capsys)
    assert code == 3 and report["status"] == "none" and not report["credentials"], report
    assert report["watermark"].startswith("found: swapstream marker"), "the mark outlives the manifest"
    code, out_text, _ = run_cli(["verify", out, stripped, altered], capsys)
    assert code == 1 and "VERIFIED" in out_text and "NO CREDENTIALS" in out_text and "ALTERED" in out_text


@pytest.mark.slow
def test_resumed_convert_after_a_real_interrupt_is_signed(work, capsys, tmp_path):
    out = tmp_path / "resumed.mp4"
    cmd = Command([str(a) for a in convert(work, out)])
    cmd.wait_until((tmp_path / "resumed.parts" / "part_00000.mp4").exists, timeout=120)
    cmd.proc.send_signal(signal.SIGTERM)
    code, err = cmd.finish()
    assert code == 130 and not out.exists(), err
    partial = tmp_path / "resumed.partial.mp4"
    code, (report,) = verify([partial], capsys)  # the playable part kept on Ctrl-C is signed too
    assert code == 0, report
    code, _, err = run_cli(convert(work, out, "--resume"), capsys)
    assert code == 0 and "kept from an earlier run" in err, err
    code, (report,) = verify([out], capsys)
    assert code == 0
    assert_swapstream_credentials(report, work)


@pytest.mark.slow
def test_ray_workers_output_is_signed(work, capsys, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "ray.mp4"
    code, _, err = run_cli(convert(work, out, "--workers", "2"), capsys)
    assert code == 0, err
    code, (report,) = verify([out], capsys)
    assert code == 0
    assert_swapstream_credentials(report, work)


def test_frame_folder_output_signs_every_png(work, capsys, tmp_path):
    out = tmp_path / "frames"
    code, _, err = run_cli([*convert(work, out), "--max-frames", "3"], capsys)
    assert code == 0, err
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 3
    code, reports = verify(pngs, capsys)
    assert code == 0 and all(r["by_swapstream"] and r["synthetic"] for r in reports), reports


def test_live_recording_is_signed(work, capsys, tmp_path):
    record = tmp_path / "rec.mp4"
    argv = ["live", "-m", work / "invert.onnx", "--source", work / "clip.mp4", "--max-frames", "20"]
    code, _, err = run_cli([*argv, "--providers", "cpu", "--record", record], capsys)
    assert code == 0, err
    code, (report,) = verify([record], capsys)
    assert code == 0
    assert_swapstream_credentials(report, work)


@pytest.mark.slow
def test_studio_recording_is_signed(work, capsys, tmp_path):
    record = tmp_path / "studio.mp4"
    argv = ["studio", "-m", work / "invert.onnx", "--source", work / "clip.mp4", "--port", "0", "--once"]
    cmd = Command([str(a) for a in [*argv, "--providers", "cpu", "--record", record, "--duration", "2"]])
    code, err = cmd.finish(timeout=120)
    assert code == 0 and record.is_file(), err
    code, (report,) = verify([record], capsys)
    assert code == 0
    assert_swapstream_credentials(report, work, source=None)  # the studio's source may switch: no ingredient


def _write_pair(folder: Path) -> tuple[Path, Path]:
    key_pem, chain_pem = make_local_pair()
    folder.mkdir()
    (folder / "key.pem").write_bytes(key_pem)
    (folder / "chain.pem").write_bytes(chain_pem)
    return folder / "chain.pem", folder / "key.pem"


def test_a_user_certificate_signs_and_a_mismatched_one_is_refused(work, capsys, tmp_path):
    from cryptography import x509

    chain, key = _write_pair(tmp_path / "org")
    other_chain, _ = _write_pair(tmp_path / "other")
    out = tmp_path / "org.mp4"
    code, _, err = run_cli(convert(work, out, "--sign-cert", chain, "--sign-key", key, "--max-frames", "15"), capsys)
    assert code == 0, err
    code, (report,) = verify([out], capsys)
    assert code == 0
    assert int(report["signer"]["serial"]) == x509.load_pem_x509_certificates(chain.read_bytes())[0].serial_number
    refused = tmp_path / "refused.mp4"
    code, _, err = run_cli(convert(work, refused, "--sign-cert", other_chain, "--sign-key", key), capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "does not match the key" in err, err
    assert not refused.exists() and not (tmp_path / "refused.parts").exists()


def test_the_engine_config_names_the_certificate(work, capsys, tmp_path):
    from cryptography import x509
    from swapstream.engine.engine_config import DEFAULT_PATH

    chain, key = _write_pair(tmp_path / "org")
    config = tmp_path / "engine.yaml"
    text = DEFAULT_PATH.read_text().replace('sign_cert: ""', f'sign_cert: "{chain}"')
    config.write_text(text.replace('sign_key: ""', f'sign_key: "{key}"'))
    out = tmp_path / "configured.mp4"
    code, _, err = run_cli(convert(work, out, "--config", config, "--max-frames", "15"), capsys)
    assert code == 0, err
    code, (report,) = verify([out], capsys)
    assert code == 0
    assert int(report["signer"]["serial"]) == x509.load_pem_x509_certificates(chain.read_bytes())[0].serial_number


def test_credentials_off_warns_once_and_keeps_the_label(work, capsys, caplog, tmp_path):
    out = tmp_path / "off.mp4"
    code, _, err = run_cli(convert(work, out, "--credentials", "off", "--max-frames", "15"), capsys)
    assert code == 0, err
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum("--credentials off" in w for w in warnings) == 1, warnings
    code, (report,) = verify([out], capsys)
    assert code == 3 and report["label"] == SYNTHETIC_LABEL


def test_watermark_survives_reencoding_downscaling_and_crops_and_is_absent_from_plain_frames(tmp_path):
    """The second layer on its own, on four 1280x720 frames of d18: H.264 at CRF 23 and 28, a 50%
    downscale (640x360), a crop."""
    import cv2
    import numpy as np
    from swapstream.engine.image.watermark import Watermark, detect, payload_for

    with av.open(str(media("d18.mp4"))) as c:
        picked = [f.to_ndarray(format="bgr24") for i, f in enumerate(c.decode(video=0)) if i in (0, 40, 80, 120)]
    frames = [cv2.resize(f, (1280, 720), interpolation=cv2.INTER_CUBIC) for f in picked]
    payload = payload_for("ab12cd34" + "0" * 56)
    marked = [f.copy() for f in frames]
    for f in marked:
        Watermark(payload).embed(f)
    assert min(10 * np.log10(255**2 / np.mean((a.astype(float) - b) ** 2)) for a, b in zip(frames, marked)) > 40
    for crf in (23, 28):
        path = tmp_path / f"crf{crf}.mp4"
        with av.open(str(path), "w") as out:
            s = out.add_stream("libx264", rate=30)
            s.width, s.height, s.pix_fmt, s.options = 1280, 720, "yuv420p", {"crf": str(crf)}
            for f in marked:
                out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="bgr24")))
            out.mux(s.encode(None))
        with av.open(str(path)) as c:
            decoded = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
        assert detect(decoded) == payload, crf
    assert detect([cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA) for f in marked]) == payload
    assert detect([np.ascontiguousarray(f[60:, 100:]) for f in marked]) == payload
    assert detect(frames) is None


def test_verify_refuses_what_is_not_media(capsys, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    code, _out, err = run_cli(["verify", text, tmp_path / "missing.mp4"], capsys)
    assert code == 2 and "not a video or image" in err and "no such file" in err
