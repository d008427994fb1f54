"""The trainer on real faces: it learns, resumes bit-exactly, survives Ctrl-C, and rejects bad input.

Facesets: 32 frames each of the astronaut and Grace Hopper moving (tests/photo_fixtures.py: two
different women), extracted with `trainer.extract` at 64 px. Models are tiny (32 px) and fp32,
with one torch thread: CI boxes are small and shared, and these tests are about behaviour, not
speed.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from swapstream.trainer import data, divergence, losses, run_state, sampling
from swapstream.trainer import train as train_module
from swapstream.trainer.checkpoint import find_checkpoint, load_checkpoint
from swapstream.trainer.config import ModelConfig, TrainConfig, load_preset
from swapstream.trainer.preview import read_history
from swapstream.trainer.train import train
from tiny_model_fixtures import run_options

from benchmarks.time_to_quality import markdown_table, validation_curve
from swapstream.cli import main as cli_main
from swapstream.common.errors import UserError
from swapstream.common.faceset import Faceset
from tests.train_fixtures import pair_facesets

TINY = ModelConfig("df", 32, 64, 16, 16, 8)
FAST = TrainConfig(batch_size=8, lr=4e-4, lr_warmup_iters=10, validation_faces=4, precision="fp32")


@pytest.fixture(scope="module")
def facesets(tmp_path_factory):
    return pair_facesets(tmp_path_factory, size=64)


# -------------------------------------------------------------------------------------- data
def test_batches_are_deterministic_and_augment_only_the_input(facesets):
    faces = data.load_faces(Faceset.open(facesets[0]), 32)
    assert faces.images.shape[1:] == (32, 32, 3) and faces.regions.any(axis=(1, 2)).all()
    aug = data.AugmentConfig(True, True, 0.05, 10.0, 0.05, 0.05)
    b1 = data.make_batch(7, 0, faces, faces, 4, aug, True, True)
    b2 = data.make_batch(7, 0, faces, faces, 4, aug, True, True)
    b3 = data.make_batch(8, 0, faces, faces, 4, aug, True, True)
    assert np.array_equal(b1.a_input, b2.a_input) and not np.array_equal(b1.a_input, b3.a_input)
    # The random warp distorts the input but not the target; without it they are identical.
    assert not np.array_equal(b1.b_input, b1.b_target)
    no_warp = dataclasses.replace(aug, random_warp=False)
    b4 = data.make_batch(7, 0, faces, faces, 4, no_warp, True, False)
    assert np.array_equal(b4.a_input, b4.a_target)


def test_yaw_balance_and_validation_split():
    yaw = np.array([0.0] * 18 + [35.0, 36.0])
    w = sampling.yaw_balanced_weights(yaw)
    assert w[18:].sum() == pytest.approx(0.5)  # the 2 turned faces get as much as the 18 frontal ones
    faces = data.IdentityFaces(
        np.zeros((20, 8, 8, 3), np.uint8),
        np.zeros((20, 8, 8), np.uint8),
        np.zeros((20, 8, 8), np.uint8),
        yaw,
        [str(i) for i in range(20)],
    )
    train_set, val_set = data.split_validation(faces, 4)
    assert len(train_set) == 16 and len(val_set) == 4 and not set(train_set.names) & set(val_set.names)


def test_a_target_that_never_blinks_gets_synthetic_blinks_on_its_training_faces(facesets, caplog):
    """A photo never closes its eyes: with synthetic_blinks, train closes them in that share
    of its drawn faces (validation faces stay as filmed) and says so instead of warning."""
    blinking = dataclasses.replace(FAST, synthetic_blinks=0.25)
    caplog.set_level("INFO", logger="swapstream.trainer.run_state")
    train_b, val_b = run_state._load_identity(facesets[1], TINY, blinking, target=True)
    assert train_b.blink_rate == 0.25 and val_b.blink_rate == 0.0
    assert train_b.landmarks.shape == (len(train_b), 478, 2)
    logged = [r.getMessage() for r in caplog.records]
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("synthetic blinks" in m for m in logged) and not any("no closed eyes" in m for m in warned)
    assert any("no open mouth" in m for m in warned)
    plain, _ = run_state._load_identity(facesets[1], TINY, FAST, target=True)
    assert plain.blink_rate == 0.0
    aug = data.AugmentConfig(False, False, 0.0, 0.0, 0.0, 0.0)
    batches = [data.make_batch(5, 0, plain, faces, 64, aug, False, False) for faces in (plain, train_b)]
    assert np.array_equal(batches[0].a_target, batches[1].a_target)  # A's side has no blinks
    assert not np.array_equal(batches[0].b_target, batches[1].b_target)
    again = data.make_batch(5, 0, plain, train_b, 64, aug, False, False)
    assert np.array_equal(again.b_target, batches[1].b_target) and np.array_equal(again.b_input, batches[1].b_input)


def test_icnr_starts_a_fresh_run_free_of_checkerboard_and_live_uses_it(facesets, tmp_path):
    run = run_state.start_run(
        run_options(facesets, tmp_path / "run", iters=1), TINY, dataclasses.replace(FAST, icnr=True)
    )
    w = run.model.decoder_b.upscales[0].conv.weight  # 4 sub-pixel filters per output channel
    assert torch.equal(w[0::4], w[1::4]) and torch.equal(w[0::4], w[3::4])
    plain = run_state.start_run(run_options(facesets, tmp_path / "plain", iters=1), TINY, FAST)
    w = plain.model.decoder_b.upscales[0].conv.weight
    assert not torch.equal(w[0::4], w[1::4])
    assert load_preset("live")[1].icnr


# ------------------------------------------------------------------------------------ learning
@pytest.mark.slow
def test_tiny_model_learns_real_faces(facesets, tmp_path, caplog):
    summary = train(run_options(facesets, tmp_path / "run", iters=150), TINY, FAST)
    # B (a photo) never closes its eyes nor opens its mouth wide: train says so up front.
    gaps = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and str(facesets[1]) in r.getMessage()]
    assert any("no closed eyes" in g for g in gaps) and any("no open mouth" in g for g in gaps)
    history = read_history(tmp_path / "run" / "history.csv")
    losses = [r["loss_a"] for r in history if "loss_a" in r]
    assert losses[-1] < 0.7 * losses[0], losses
    start, end = summary.val_ssim_start[0], summary.val_ssim_end[0]
    assert end > start + 0.1, (start, end)
    assert summary.val_ssim_end[1] > summary.val_ssim_start[1] + 0.1, summary
    for name in ("preview.png", "loss.png", "history.csv", "checkpoint.pt"):
        assert (tmp_path / "run" / name).stat().st_size > 0

    # benchmarks/time_to_quality.py reads the run's validation rows on a wall-clock axis
    curve = validation_curve(tmp_path / "run")
    minutes = [row[0] for row in curve]
    assert minutes == sorted(minutes) and curve[0][1] == 0 and curve[-1][1] == 150
    assert curve[-1][2:] == pytest.approx((end, summary.val_ssim_end[1]), abs=1e-5)
    assert f"150 ({minutes[-1]:.1f} min)" in markdown_table({"tiny": curve}, every=minutes[-1] / 3)
    with pytest.raises(SystemExit, match="no such file"):
        validation_curve(tmp_path)


# ------------------------------------------------------------------------------- resume, SIGINT
def test_sigint_checkpoint_then_resume_matches_uninterrupted_run(facesets, tmp_path):
    cfg = dataclasses.replace(FAST, batch_size=4)
    straight = train(run_options(facesets, tmp_path / "straight", iters=6, seed=3), TINY, cfg)

    def interrupt_at_3(iteration):
        if iteration == 3:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, handled between steps

    with pytest.raises(KeyboardInterrupt):
        train(run_options(facesets, tmp_path / "split", iters=6, seed=3), TINY, cfg, on_step=interrupt_at_3)
    interrupted = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert interrupted["iteration"] == 3
    resumed = train(run_options(facesets, tmp_path / "split", iters=6, seed=99, resume=True), TINY, cfg)
    assert resumed.iteration == straight.iteration == 6

    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "split" / "checkpoint.pt")
    assert a["iteration"] == b["iteration"] == 6
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    for k, v in a["optimizer"]["state"].items():
        for name, t in v.items():
            assert torch.equal(t, b["optimizer"]["state"][k][name]), (k, name)


def test_liae_with_gan_trains_and_previews_only_b2a(facesets, tmp_path):
    liae = ModelConfig("liae", 32, 32, 8, 8, 4)
    summary = train(run_options(facesets, tmp_path / "run", iters=3), liae, dataclasses.replace(FAST, gan_power=0.1))
    state = load_checkpoint(summary.checkpoint)
    assert state["iteration"] == 3 and "discriminator" in state and state["losses"]["loss_gan"] > 0
    assert ModelConfig.from_dict(state["model_config"]) == liae


def test_gan_starts_late_in_the_budget_and_its_discriminator_waits(facesets, tmp_path, monkeypatch):
    flags, d_weights = [], []
    step = train_module.train_step

    def recording_step(run, batch, lr, gan=True):
        flags.append(gan)
        d_weights.append(torch.cat([p.detach().flatten().clone() for p in run.discriminator.parameters()]))
        return step(run, batch, lr, gan=gan)

    monkeypatch.setattr(train_module, "train_step", recording_step)
    cfg = dataclasses.replace(FAST, gan_power=0.1, gan_start=0.5)
    summary = train(run_options(facesets, tmp_path / "run", iters=4), TINY, cfg)
    assert flags == [False, False, True, True]
    assert torch.equal(d_weights[0], d_weights[2])  # no discriminator step before the GAN phase
    assert not torch.equal(d_weights[2], d_weights[3])
    assert load_checkpoint(summary.checkpoint)["losses"]["loss_gan"] > 0
    with pytest.raises(ValueError, match="gan_start"):
        dataclasses.replace(FAST, gan_start=1.5)


def test_a_run_records_its_facesets_absolute_so_export_finds_them_from_anywhere(facesets, tmp_path, monkeypatch):
    monkeypatch.chdir(facesets[0].parent)
    relative = [Path(os.path.relpath(f)) for f in facesets]
    summary = train(run_options(relative, tmp_path / "run", iters=1), TINY, FAST)
    recorded = load_checkpoint(summary.checkpoint)["facesets"]
    assert [Path(recorded[k]) for k in ("a", "b")] == [f.resolve() for f in facesets]
    assert all(Path(recorded[k]).is_absolute() for k in ("a", "b"))


def test_keep_checkpoints_keeps_each_state_under_its_minute_and_iteration(facesets, tmp_path):
    run = tmp_path / "run"
    train(run_options(facesets, run, iters=3, keep_checkpoints=True), TINY, FAST)
    train(run_options(facesets, run, iters=5, resume=True, keep_checkpoints=True), TINY, FAST)
    kept = sorted((run / "checkpoints").iterdir())
    assert [p.name for p in kept] == ["minute_0000_iter_0000003.pt", "minute_0000_iter_0000005.pt"]
    assert [load_checkpoint(find_checkpoint(p))["iteration"] for p in kept] == [3, 5]  # export reads these
    assert kept[1].read_bytes() == (run / "checkpoint.pt").read_bytes()


def test_divergence_stops_without_touching_the_last_checkpoint(facesets, tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(run_options(facesets, run, iters=2), TINY, FAST)
    good = (run / "checkpoint.pt").read_bytes()

    def nan_loss(pred, *args):
        return pred.sum() * float("nan")  # as an exploding learning rate would make it

    monkeypatch.setattr(losses, "face_loss", nan_loss)
    # Every step is NaN: the guard rolls back MAX_ROLLBACKS (3) times, then gives up.
    with pytest.raises(UserError, match="diverged 4 times, the last at iteration 6"):
        train(run_options(facesets, run, iters=20, resume=True), TINY, FAST)
    assert (run / "checkpoint.pt").read_bytes() == good


def test_ctrl_c_between_a_collapse_and_its_rollback_keeps_the_last_checkpoint(facesets, tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(run_options(facesets, run, iters=2), TINY, FAST)
    good = (run / "checkpoint.pt").read_bytes()
    monkeypatch.setattr(losses, "face_loss", lambda pred, *args: pred.sum() * float("nan"))
    real_agree = train_module.Team.agree

    def agree_then_interrupt(self, *flags):
        if flags[2]:  # a collapse is pending: a second Ctrl-C lands right now
            raise KeyboardInterrupt
        return real_agree(self, *flags)

    monkeypatch.setattr(train_module.Team, "agree", agree_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        train(run_options(facesets, run, iters=20, resume=True), TINY, FAST)
    assert (run / "checkpoint.pt").read_bytes() == good


def _poison_at(model_of, iteration: int, poison):
    """An on_step hook that breaks the weights once, after `iteration`."""

    def on_step(i):
        if i == iteration:
            with torch.no_grad():
                poison(model_of())

    return on_step


def test_a_nan_step_rolls_back_and_the_run_goes_on_at_half_the_rate(facesets, tmp_path, monkeypatch):
    holder = {}
    real_start = train_module.start_run
    monkeypatch.setattr(train_module, "start_run", lambda *a: holder.setdefault("run", real_start(*a)))

    def nan_weight(model):
        next(model.decoder_b.parameters()).view(-1)[0] = float("nan")

    hook = _poison_at(lambda: holder["run"].model, 5, nan_weight)
    summary = train(run_options(facesets, tmp_path / "run", iters=12), TINY, FAST, on_step=hook)
    state = load_checkpoint(summary.checkpoint)
    assert state["iteration"] == 12 and state["divergence"]["rollbacks"] == 1
    assert state["divergence"]["lr_scale"] == 0.5
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())
    history = read_history(tmp_path / "run" / "history.csv")
    lrs = {round(r["iteration"]): r["lr"] for r in history if "lr" in r}
    assert lrs[10] == pytest.approx(0.5 * FAST.lr * 10 / FAST.lr_warmup_iters)  # warmup step 10, halved
    # A resumed run keeps the lowered rate.
    resumed = train(run_options(facesets, tmp_path / "run", iters=13, resume=True), TINY, FAST)
    assert load_checkpoint(resumed.checkpoint)["divergence"]["lr_scale"] == 0.5


@pytest.mark.slow
def test_a_loss_that_jumps_and_stays_up_is_rolled_back(facesets, tmp_path, monkeypatch, caplog):
    """The collapse seen on the CPU (loss_b doubled and stayed flat): B's decoder re-randomised at
    iteration 60 stands in for it. The guard goes back to the snapshot of iteration 60 (taken every
    20 steps here) and B's loss is back near its best at the end."""
    monkeypatch.setattr(train_module, "SETTLE_STEPS", 10)
    monkeypatch.setattr(train_module, "SNAPSHOT_EVERY", 20)
    monkeypatch.setattr(divergence, "PATIENCE", 15)
    holder = {}
    real_start = train_module.start_run
    monkeypatch.setattr(train_module, "start_run", lambda *a: holder.setdefault("run", real_start(*a)))

    def scramble(model):
        for p in model.decoder_b.parameters():
            p.normal_(0.0, 0.5)

    hook = _poison_at(lambda: holder["run"].model, 60, scramble)
    summary = train(run_options(facesets, tmp_path / "run", iters=110), TINY, FAST, on_step=hook)
    state = load_checkpoint(summary.checkpoint)
    assert state["divergence"]["rollbacks"] == 1, state["divergence"]
    best_b = state["divergence"]["best"]["loss_b"]
    assert state["losses"]["loss_b"] < divergence.HEALTHY * 1.2 * best_b
    # The poison really broke B (the guard's own verdict, on its smoothed loss) and the guard went
    # back to the snapshot taken as the poison struck.
    rolled = [r.getMessage() for r in caplog.records if "training diverged" in r.getMessage()]
    assert len(rolled) == 1 and "loss_b rose" in rolled[0], rolled
    assert "back to the weights of iteration 60" in rolled[0], rolled


def test_guard_waits_out_a_short_spike_but_not_a_plateau():
    guard = divergence.DivergenceGuard(divergence.GuardState(), settle_at=0)
    losses_seen = {"loss_a": 1.0, "loss_b": 1.0, "loss_mask": 0.2}
    for i in range(50):
        assert guard.collapse(i, losses_seen, losses_seen) is None
    spike = {**losses_seen, "loss_b": 2.0}
    for i in range(divergence.PATIENCE - 1):  # a burst of hard batches, shorter than the patience
        assert guard.collapse(50 + i, spike, spike) is None
    assert guard.collapse(200, losses_seen, losses_seen) is None and guard.healthy(losses_seen)
    verdicts = [guard.collapse(300 + i, spike, spike) for i in range(divergence.PATIENCE)]
    assert verdicts[:-1] == [None] * (divergence.PATIENCE - 1) and "loss_b rose" in verdicts[-1]
    assert not guard.healthy(spike)
    assert "not finite" in guard.collapse(400, {**losses_seen, "loss_a": float("nan")}, losses_seen)
    assert [guard.rolled_back() for _ in range(divergence.MAX_ROLLBACKS + 1)] == [True] * 3 + [False]
    assert guard.state.lr_scale == divergence.LR_FACTOR**divergence.MAX_ROLLBACKS


# ------------------------------------------------------------------------------------ bad input
def _cli(facesets, run_dir, *extra):
    a, b = facesets
    return cli_main(
        [
            "train",
            "-a",
            str(a),
            "-b",
            str(b),
            "-o",
            str(run_dir),
            "--iters",
            "2",
            "--no-progress",
            "--threads",
            "1",
            *extra,
        ]
    )


def test_cli_bad_input_exits_2_with_one_line(facesets, tmp_path, capsys):
    a, _ = facesets
    assert (
        cli_main(["train", "-a", str(tmp_path / "nope"), "-b", str(a), "-o", str(tmp_path / "r"), "--iters", "1"]) == 2
    )
    assert "nope: no such faceset" in capsys.readouterr().err

    preset = tmp_path / "full.yaml"
    preset.write_text(
        "model: {arch: df, resolution: 32, ae_dims: 32, e_dims: 8, d_dims: 8, d_mask_dims: 4, "
        "face_type: full}\ntrain: {batch_size: 2, validation_faces: 2, precision: fp32}\n"
    )
    assert _cli(facesets, tmp_path / "r", "--preset", str(preset)) == 2
    assert "holds 'whole' faces but the preset trains on 'full'" in capsys.readouterr().err

    big = tmp_path / "big.yaml"
    big.write_text("model: {arch: df, resolution: 128, ae_dims: 32, e_dims: 8, d_dims: 8, d_mask_dims: 4}\n")
    assert _cli(facesets, tmp_path / "r", "--preset", str(big)) == 2
    assert "faces are 64 px but the model trains at 128 px" in capsys.readouterr().err

    assert _cli(facesets, tmp_path / "r", "--gan-start", "1.5") == 2
    assert "--gan-start" in capsys.readouterr().err


def test_cli_refuses_foreign_run_dir_and_corrupt_checkpoint(facesets, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert _cli(facesets, run) == 2
    assert "holds another run" in capsys.readouterr().err
    assert _cli(facesets, run, "--resume") == 2
    assert "corrupt checkpoint" in capsys.readouterr().err
    assert (run / "checkpoint.pt").read_bytes() == b"not a checkpoint"  # never overwritten
    assert _cli(facesets, tmp_path / "empty", "--resume") == 2


def test_cli_cycle_weight_trains_a_df_model_and_refuses_liae(facesets, tmp_path, capsys):
    """--cycle-weight: a df run logs the cycle term beside A's and B's losses; LIAE, whose one
    decoder cannot swap A to B and back, and a negative weight are refused in one line, exit 2."""
    df = tmp_path / "df.yaml"
    df.write_text(
        "model: {arch: df, resolution: 32, ae_dims: 32, e_dims: 8, d_dims: 8, d_mask_dims: 4}\n"
        "train: {batch_size: 2, validation_faces: 2, precision: fp32}\n"
    )
    assert _cli(facesets, tmp_path / "df", "--preset", str(df), "--cycle-weight", "1") == 0
    state = load_checkpoint(find_checkpoint(tmp_path / "df"))
    assert state["train_config"]["cycle_weight"] == 1.0 and state["losses"]["loss_cycle"] > 0
    assert TrainConfig.from_dict(state["train_config"]).cycle_weight == 1.0  # a resume keeps it

    liae = tmp_path / "liae.yaml"
    liae.write_text(df.read_text().replace("arch: df", "arch: liae"))
    capsys.readouterr()
    assert _cli(facesets, tmp_path / "liae", "--preset", str(liae), "--cycle-weight", "1") == 2
    err = capsys.readouterr().err
    assert "cycle_weight needs both decoders" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "liae" / "checkpoint.pt").exists()
    assert _cli(facesets, tmp_path / "neg", "--cycle-weight", "-1") == 2
    assert "--cycle-weight" in capsys.readouterr().err
