"""The studio's web app with Starlette's TestClient (no model, no camera): the token gate on every
route, control messages validated into the board, bounded bodies, the model picker kept inside
its folder, the MJPEG stream, and the server's defaults (127.0.0.1; other hosts only on request)."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from starlette.testclient import TestClient
from swapstream.engine.pipeline.controls import ControlBoard, ControlError, SwapSettings
from swapstream.engine.pipeline.metrics import PipelineStats
from swapstream.engine.pipeline.pacing import Pacer

from swapstream.cli import _available_commands, build_parser
from swapstream.commands.studio import check_host
from swapstream.common.errors import UserError
from swapstream.common.pipeline_contract import FramePacket, SourceInfo
from swapstream.studio.app import MAX_BODY, create_app
from swapstream.studio.models import ModelFolder
from swapstream.studio.preview_hub import PreviewHub
from swapstream.studio.session import StudioSession

TOKEN = "test-token-123"
ROUTES = ["/", "/static/app.js", "/static/style.css", "/api/state", "/stream/swapped", "/output", "/static/rtc.js"]


class FakePipe:
    """What the session reads from a running pipeline."""

    def __init__(self):
        self.stats = PipelineStats(provider="cpu")
        self.pacer = Pacer()
        self.info = SourceInfo("clip.mp4", 64, 48, 30.0)

    def wait(self, timeout=None) -> bool:
        return False


class FakeModel:
    def __init__(self, path):
        self.path, self.provider = path, "cpu"

    def warmup(self, batch):
        pass


@pytest.fixture
def models(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("a.onnx", "b.dfm", "notes.txt"):
        (folder / name).write_bytes(b"x")
    (tmp_path / "outside.onnx").write_bytes(b"x")
    os.symlink(tmp_path / "outside.onnx", folder / "link.onnx")
    return ModelFolder(folder, FakeModel)


@pytest.fixture
def session(models):
    hub = PreviewHub()
    s = StudioSession(FakePipe(), ControlBoard(SwapSettings(), models), hub, None, models)
    yield s
    hub.close()


@pytest.fixture
def client(session):
    with TestClient(create_app(session, TOKEN), base_url="http://127.0.0.1") as c:
        yield c


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_needs_the_token(client, route):
    assert client.get(route).status_code == 403
    assert client.get(route, params={"token": "wrong"}).status_code == 403
    assert client.post("/api/control", json={"key": "swap", "value": False}).status_code == 403


def test_page_and_state_with_the_token(client):
    page = client.get("/", params={"token": TOKEN})
    assert page.status_code == 200 and f"static/app.js?token={TOKEN}" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "fetch(withToken" in client.get("/static/app.js", params={"token": TOKEN}).text
    assert client.get("/static/../app.py", params={"token": TOKEN}).status_code == 404
    state = client.get("/api/state", headers={"X-Swapstream-Token": TOKEN}).json()
    assert state["settings"]["color"] == "rct" and state["metrics"]["provider"] == "cpu"
    assert state["metrics"]["latency_ms"]["p50"] is None  # NaN (no frames yet) is sent as null
    assert state["models"] == ["a.onnx", "b.dfm"]  # not the text file, not the link leaving the folder
    assert {c["key"] for c in state["controls"]} >= {"swap", "color", "mask", "blend", "faces", "recording"}


def test_controls_are_validated(client, session):
    def post(body):
        return client.post("/api/control", params={"token": TOKEN}, json=body)

    ok = post({"key": "color", "value": "lct"})
    assert ok.status_code == 200 and ok.json()["settings"]["color"] == "lct"
    assert session.board.current.color == "lct"
    bad = post({"key": "color", "value": "sepia"})
    assert bad.status_code == 400 and "color must be one of" in bad.json()["error"]
    assert post({"key": "blur", "value": 7}).status_code == 400
    assert post({"nope": 1}).status_code == 400
    assert session.board.current.color == "lct" and session.board.current.blur == 0.05
    json_type = {"content-type": "application/json"}
    raw = client.post("/api/control", params={"token": TOKEN}, content=b"{", headers=json_type)
    assert raw.status_code == 400
    form = client.post("/api/control", params={"token": TOKEN}, data={"key": "swap"})
    assert form.status_code == 415
    big = {"key": "color", "value": "x" * (MAX_BODY + 1)}
    assert post(big).status_code == 413


def test_model_picker_cannot_leave_its_folder(client, session, tmp_path):
    def post(name):
        return client.post("/api/control", params={"token": TOKEN}, json={"key": "model", "value": name})

    for name in ("../outside.onnx", str(tmp_path / "outside.onnx"), "link.onnx", "notes.txt", ".hidden.onnx", ""):
        r = post(name)
        assert r.status_code == 400 and "models folder" in r.json()["error"], name
    r = post("a.onnx")
    assert r.status_code == 200 and r.json()["settings"]["model"] == "a.onnx"
    assert session.board.current.model_obj.path.name == "a.onnx"


def test_model_folder_reuses_loaded_models(models):
    assert models("a.onnx") is models("a.onnx")
    with pytest.raises(ControlError):
        models("missing.onnx")


def test_mjpeg_stream_sends_the_newest_frames(client, session):
    hub = session.hub

    def feed():
        seq = 0
        while not hub.closed and seq < 500:
            frame = np.full((48, 64, 3), seq % 256, np.uint8)
            hub.on_output(FramePacket(seq, time.perf_counter(), frame))
            seq += 1
            if hub.encoded >= 3:
                hub.close()  # ends the stream, so the test client's response completes
            time.sleep(0.01)

    feeder = threading.Thread(target=feed)
    feeder.start()
    r = client.get("/stream/swapped", params={"token": TOKEN})
    feeder.join()
    assert r.status_code == 200 and r.headers["content-type"].startswith("multipart/x-mixed-replace")
    parts = r.content.split(b"--frame\r\n")[1:]
    assert len(parts) >= 2 and all(b"\r\n\r\n\xff\xd8" in p for p in parts)


def test_studio_binds_to_this_machine_by_default(capsys):
    parser = build_parser(_available_commands())
    args = parser.parse_args(["studio", "-m", "m.onnx"])
    assert args.host == "127.0.0.1" and not args.allow_remote
    check_host(args.host, args.allow_remote)
    with pytest.raises(UserError, match="--allow-remote"):
        check_host("0.0.0.0", False)
    check_host("0.0.0.0", True)
    assert "WARNING" in capsys.readouterr().err


def test_port_out_of_range_is_refused_with_exit_2(capsys):
    from swapstream.cli import main

    assert main(["studio", "-m", "model.onnx", "--port", "70000"]) == 2
    assert "--port: must be 0..65535" in capsys.readouterr().err  # not a crash at bind (OverflowError)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "localhost.evil.example", ""])
def test_a_foreign_host_name_is_refused(session, host):
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1."""
    with TestClient(create_app(session, TOKEN), base_url="http://127.0.0.1") as c:
        got = c.get("/api/state", params={"token": TOKEN}, headers={"Host": host})
        assert got.status_code == 421
        sent = c.post(
            "/api/control", params={"token": TOKEN}, json={"key": "swap", "value": False}, headers={"Host": host}
        )
        assert sent.status_code == 421
    assert session.board.current.swap is True


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "192.0.2.7"])
def test_this_machine_is_served_by_name_or_address(session, host):
    with TestClient(create_app(session, TOKEN), base_url="http://127.0.0.1") as c:
        assert c.get("/api/state", params={"token": TOKEN}, headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Origin": "http://127.0.0.1:9999"}, 403),  # another port is another origin
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Origin": "http://127.0.0.1:8765", "Sec-Fetch-Site": "same-origin"}, 200),
        ({}, 200),  # no browser page behind it (curl, a script): the token is enough
    ],
)
def test_state_changes_only_from_this_origin(session, headers, status):
    with TestClient(create_app(session, TOKEN), base_url="http://127.0.0.1:8765") as c:
        got = c.post("/api/control", params={"token": TOKEN}, json={"key": "swap", "value": False}, headers=headers)
        assert got.status_code == status, got.text
        rtc = c.post("/api/rtc/offer", params={"token": TOKEN}, json={"type": "offer", "sdp": ""}, headers=headers)
        assert rtc.status_code == (403 if status == 403 else 501)  # this session has no WebRTC
    assert session.board.current.swap is (status == 403)


def test_remote_use_is_served_over_tls(tmp_path, monkeypatch):
    import argparse
    import stat

    from swapstream.studio.tls import fingerprint, tls_files

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    args = argparse.Namespace(host="0.0.0.0", allow_remote=True, tls=False, tls_cert=None, tls_key=None)
    cert, key = tls_files(args, remote=True)  # no --tls-cert: a self-signed one, made once
    assert cert.parent == tmp_path / "swapstream" / "studio-tls"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = fingerprint(cert)
    assert tls_files(args, remote=True) == (cert, key) and fingerprint(cert) == first  # kept, not remade
    local = argparse.Namespace(host="127.0.0.1", allow_remote=False, tls=False, tls_cert=None, tls_key=None)
    assert tls_files(local, remote=False) is None  # plain HTTP on this machine only
    with pytest.raises(UserError, match="go together"):
        tls_files(argparse.Namespace(**{**vars(local), "tls_cert": cert}), remote=False)
    with pytest.raises(UserError, match="no such file"):
        tls_files(argparse.Namespace(**{**vars(local), "tls_cert": cert, "tls_key": tmp_path / "nope"}), remote=False)
