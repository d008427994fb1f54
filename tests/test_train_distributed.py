"""`torchrun --nproc-per-node 2 -m swapstream train` (issue 15): DistributedDataParallel on CPU (gloo).

Two processes train a tiny model a few iterations; only rank 0 writes; the checkpoint resumes in a
single process, and a single process's checkpoint resumes under torchrun.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from swapstream.cli import main as cli_main
from tests.bad_input_media import TINY_PRESET
from tests.train_fixtures import build_faceset


@pytest.fixture(scope="module")
def facesets(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp_facesets")
    (root / "tiny.yaml").write_text(TINY_PRESET)
    return build_faceset("astronaut", root / "A", faces=16), build_faceset("hopper", root / "B", faces=16)


def train_argv(facesets, run, iters: int, *extra: str) -> list[str]:
    a, b = facesets
    preset = str(a.parent / "tiny.yaml")
    return ["train", "-a", str(a), "-b", str(b), "-o", str(run), "--preset", preset, "--iters", str(iters), *extra]


def torchrun(argv: list[str]) -> str:
    """Two ranks on this machine (a free port: --standalone); returns their combined output."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    done = subprocess.run(
        [*cmd, "-m", "swapstream", *argv, "--no-progress"], check=False, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_each_rank_draws_its_own_part_of_the_batch_stream():
    from swapstream.trainer.distributed import Team

    assert [Team(1, 2).batch_maker(lambda i: i)(it) for it in range(3)] == [1, 3, 5]
    assert [Team(0, 2).batch_maker(lambda i: i)(it) for it in range(3)] == [0, 2, 4]
    solo = Team()
    assert solo.batch_maker(abs) is abs and solo.agree(True, False) == (True, False) and solo.leader


def test_two_processes_train_and_resume_in_one_and_back(facesets, tmp_path, capsys):
    from swapstream.trainer.checkpoint import load_checkpoint
    from swapstream.trainer.preview import read_history

    run = tmp_path / "run"
    out = torchrun(train_argv(facesets, run, 3))
    assert "2 processes (gloo)" in out
    assert out.count("Trained DF") == 1, out  # rank 0 reports, rank 1 stays quiet
    assert load_checkpoint(run / "checkpoint.pt")["iteration"] == 3
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "history.csv", "loss.png", "preview.png"]

    # multi-process -> single process: the same keys, the iteration count carries on
    assert cli_main([*train_argv(facesets, run, 5, "--threads", "1", "--no-progress", "--resume")]) == 0
    assert "to iteration 5" in capsys.readouterr().out
    # single process -> multi-process
    out = torchrun(train_argv(facesets, run, 7, "--resume"))
    assert "to iteration 7" in out
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["iteration"] == 7 and not any(k.startswith("module.") for k in state["model"])
    rows = [r["iteration"] for r in read_history(run / "history.csv") if "val_ssim_aa" in r]
    assert rows == sorted(rows) and rows[-1] == 7
