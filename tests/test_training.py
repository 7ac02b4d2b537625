"""The training loop: config, losses, metrics, a short CI-config run on the built-in
forge corpus (checkpoints, log, resume, calibration, packaging) and DDP on 2 CPU ranks."""
from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from localize import training as T
from localize.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def forge_corpus(tmp_path_factory) -> Path:
    """The built-in forge corpus (carphone + astronaut), small: face swaps, 20-frame clips."""
    from localize.forge.corpus import build_corpus

    out = tmp_path_factory.mktemp("forge")
    build_corpus(out, methods=["faceswap"], max_frames=40, segment=20, progress=False)
    return out


def ci_config(corpus: Path, out: Path, cache: Path, *overrides: str) -> dict:
    """configs/ci.yaml (the file itself) pointed at ``corpus``, made tiny."""
    return T.load_config(ROOT / "configs" / "ci.yaml", [
        f"data.sources=[{{path: '{corpus}', kind: pairs, compressions: [c23], split_map: {{test: val}}}}]",
        f"data.cache_dir={cache}", f"train.out={out}", "model.input_size=64", "data.frames_per_video=4",
        "train.steps_per_epoch=3", "train.batch_size=4", "train.epochs=2", "train.warmup_steps=2",
        "data.num_workers=0", "train.threads=1", "train.progress=false", "train.val_batch_size=16", *overrides])


def test_config_file_overrides_and_errors(tmp_path):
    cfg = T.load_config(ROOT / "configs" / "default.yaml", ["train.epochs=3", "loss.kind=soft_l2", "train.lr=1e-4",
                                                            "model.decoder_channels=[32, 16, 8, 8, 4]"])
    assert cfg["train"]["epochs"] == 3 and cfg["loss"]["kind"] == "soft_l2" and cfg["train"]["lr"] == 1e-4
    assert cfg["model"]["encoder"] == "mobilenet_v2" and cfg["model"]["decoder_channels"] == [32, 16, 8, 8, 4]
    assert cfg["train"]["patience"] == T.DEFAULTS["train"]["patience"] or "patience" in cfg["train"]
    with pytest.raises(InputError, match="unknown config key"):
        T.load_config(None, ["train.epoch=3"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {nope: 1}\n")
    with pytest.raises(InputError, match="train.nope"):
        T.load_config(bad)
    with pytest.raises(InputError, match="not found"):
        T.load_config(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match="data.target must be one of mask, xray"):
        T.train(T.load_config(None, ["data.target=boundary"]))


@pytest.mark.parametrize("name", ["ci", "default", "paired", "previous", "previous-stage1", "xray", "xray-cf"])
def test_every_training_config_loads(name):
    """The shipped training configs stay valid as the config schema changes."""
    cfg = T.load_config(ROOT / "configs" / f"{name}.yaml")
    assert cfg["name"] and cfg["data"]["sources"] and T._target(cfg["data"]) in ("mask", "xray")


def test_losses_and_schedule():
    t = torch.zeros(2, 1, 8, 8)
    t[0, :, 2:6, 2:6] = 1
    good, bad = (t * 2 - 1) * 8, -(t * 2 - 1) * 8
    for kind in ("bce_dice", "soft_l2"):
        assert T.seg_loss(good, t, kind) < 0.05 < T.seg_loss(bad, t, kind)
    # an all-real batch with an all-background prediction costs nothing much
    assert T.seg_loss(torch.full((2, 1, 8, 8), -8.0), torch.zeros(2, 1, 8, 8)) < 0.06
    with pytest.raises(InputError):
        T.seg_loss(good, t, "focal")
    # pos_weight: on pixels forged half of the time the BCE optimum moves from p = 1/2 to
    # w / (w + 1), i.e. below the 0.5 pixel threshold for w < 1 (an unjudgeable patch reads real)
    half = torch.cat([torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)])
    for w, p_opt in ((1.0, 0.5), (0.5, 1 / 3)):
        z = torch.full((2, 1, 4, 4), math.log(p_opt / (1 - p_opt)), requires_grad=True)
        T.seg_loss(z, half, dice_weight=0.0, pos_weight=w).backward()
        assert z.grad.sum().abs() < 1e-6
    lr = [T.lr_lambda(s, 10, 100, 0.02) for s in range(100)]
    assert lr[0] == pytest.approx(0.1) and lr[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lr[10:], lr[11:])) and lr[-1] == pytest.approx(0.02, abs=0.01)


def test_metrics_against_constant_mask_baseline():
    from localize import data as D

    rng = np.random.default_rng(0)
    tg = np.zeros((4, 16, 16), np.float32)
    tg[2:, 4:12, 4:12] = 1  # two real frames, two fakes
    labels = np.array([0, 0, 1, 1], np.float32)
    base = np.zeros((16, 16), np.float32)
    base[4:12, 4:12] = 1
    m = T.SegMetrics(base, pixel_stride=1)
    m.update(tg * 0.9 + rng.uniform(0, 0.05, tg.shape), tg, labels, None, ["a", "a", "b", "b"], 0.1)
    r = m.compute()
    assert r["iou"] == 1 and r["f1"] == 1 and r["pixel_auc"] == 1 and r["frame_auc"] == 1
    assert r["real_flag_rate"] == 0 and r["fake_flag_rate"] == 1 and r["video_auc"] == 1
    # the constant mask is perfect on fakes and wrong on every real frame
    assert r["base_iou_fake"] == 1 and r["base_iou"] == pytest.approx(0.5)
    m2 = T.SegMetrics(base, pixel_stride=1)
    m2.update(np.broadcast_to(base, tg.shape).copy(), tg, labels, None, ["a"] * 4, 0.1)
    r2 = m2.compute()
    assert r2["iou"] == r2["base_iou"] and r2["frame_auc"] == 0.5 and r2["real_flag_rate"] == 1
    assert "frame_auc_videos" not in r2
    # photos (one-crop sources, and their self-blends) apart: the frame AUC over video crops alone
    m3 = T.SegMetrics(None, pixel_stride=1)
    area = np.stack([(np.arange(16) < 16 * f)[:, None] * np.ones((16, 16)) for f in
                     (0.0, 0.0, 1.0, 1.0, 0.5, 0.25, 0.125, 0.75)])  # forged area 0..1 of each crop
    m3.update(area, np.zeros_like(area), np.array([0, 0, 1, 1, 0, 1, 0, 1], np.float32), None,
              ["p/x", "p/y", "p/x" + D.BLEND_KEY_SUFFIX, "p/y" + D.BLEND_KEY_SUFFIX, "v/a", "v/a" + D.BLEND_KEY_SUFFIX,
               "v/b", "v/c"], 0.1)
    r3 = m3.compute({"p/x", "p/y"})
    assert r3["frame_auc_videos"] == pytest.approx(0.75) and r3["frame_auc"] > r3["frame_auc_videos"]


def test_validation_scores_a_videos_other_faces_as_their_own_track():
    """As analysis does: a bystander flagged in 3 of 43 crops of a real video decides its score
    (max over tracks), where pooling them with the main face's 40 low crops gave the 0.9-quantile
    of the pool, a main-face value: validation would set its threshold under the analysis score.
    A track of fewer than 3 crops does not decide, as in analysis."""
    def maps(areas):  # frame score of each = share of rows flagged
        return np.stack([(np.arange(16) < 16 * a)[:, None] * np.ones((16, 16)) for a in areas]).astype(np.float32)

    def score(areas, tracks):
        m = T.SegMetrics(None, pixel_stride=1)
        x = maps(areas)
        m.update(x, np.zeros_like(x), np.zeros(len(x), np.float32), None, ["v"] * len(x), 0.0, tracks)
        (k,), s, _ = m.video_scores()
        return s[0]

    areas = [0.02] * 40 + [0.4] * 3  # frame scores 1/16 and 7/16
    assert score(areas, None) == pytest.approx(1 / 16)  # one pooled track (also the old rule)
    assert score(areas, ["main"] * 40 + ["others"] * 3) == pytest.approx(7 / 16)
    assert score([0.02] * 40 + [0.4] * 2, ["main"] * 40 + ["others"] * 2) == pytest.approx(1 / 16)


def test_ci_config_short_run_checkpoints_resume_and_package(forge_corpus, tmp_path):
    from localize.model import load_localizer, normalize

    cfg = ci_config(forge_corpus, tmp_path / "run", tmp_path / "cache")
    res = T.train(cfg)
    assert res.best.exists() and res.last.exists() and res.epochs == 2
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for k in ("val_iou", "val_f1", "val_pixel_auc", "val_frame_auc", "val_loss", "val_base_iou", "train_loss",
              "val_real_flag_rate", "train_images_per_s"):
        assert k in rows[0] and rows[0][k] != ""
    assert 0 <= float(rows[1]["val_base_iou"]) <= 1 and np.isfinite(float(rows[1]["train_loss"]))
    data = json.loads((tmp_path / "run" / "data.json").read_text())
    assert not set(data["train"]["identities"]) & set(data["val"]["identities"])
    assert data["train"]["fake_crops"] > 0 and data["val"]["real_crops"] > 0
    # the checkpoint carries what analysis needs
    loc = load_localizer(res.best)
    for k in ("config", "data_manifest_hash", "versions", "metrics", "calibration", "model_id", "epoch"):
        assert k in loc.meta, k
    assert loc.input_size == 64 and loc.model_id.startswith("unet-mobilenet_v2-64-")
    assert loc.calibration["threshold"] >= 0.01 and loc.calibration["method"] == "platt"
    probs, frame = loc.predict(np.zeros((2, 64, 64, 3), np.uint8))
    assert probs.shape == (2, 64, 64) and frame.shape == (2,)
    # resume: continues after epoch 2 with the optimizer state, appends to the log
    cfg2 = ci_config(forge_corpus, tmp_path / "run", tmp_path / "cache", "train.epochs=3")
    res2 = T.train(cfg2, resume=True)
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3] and res2.epochs == 3
    assert int(rows[2]["step"]) == 9
    # packaging: fp16 storage, no optimizer state, same predictions to fp16 precision
    assert T.main(["--package", str(res.last), str(tmp_path / "ship.pt"), "--warning", "misses GHOST swaps"]) == 0
    info = {"bytes": (tmp_path / "ship.pt").stat().st_size}
    assert info["bytes"] < 0.7 * res.last.stat().st_size
    shipped = load_localizer(tmp_path / "ship.pt")
    assert "train_state" not in shipped.meta and shipped.meta["weights_dtype"] == "float16"
    assert shipped.meta["quality_warning"] == "misses GHOST swaps"
    full = load_localizer(res.last)
    x = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    assert np.abs(full.predict(x)[0] - shipped.predict(x)[0]).max() < 0.02
    # a seed ensemble of two checkpoints of one config: logits averaged, validated and calibrated again
    ens_path = tmp_path / "ens.pt"
    assert T.main(["--package", str(res.best), str(res2.last), str(ens_path)]) == 0
    ens = load_localizer(ens_path)
    assert len(ens._impl.members) == 2
    assert [m["checkpoint"] for m in ens.meta["ensemble_of"]] == [str(res.best), str(res2.last)]
    assert "-ens2-" in ens.model_id and ens.calibration["threshold"] >= 0.01
    assert 0 <= ens.meta["metrics"]["frame_auc"] <= 1
    import torch

    from localize.model import load_checkpoint

    members = [load_checkpoint(p)[0] for p in (res.best, res2.last)]
    xt = torch.from_numpy(normalize(x))
    with torch.inference_mode():
        want = torch.sigmoid(torch.stack([m(xt)[0] for m in members]).mean(0))[:, 0].numpy()
    assert np.abs(ens.predict(x)[0] - want).max() < 0.02  # fp16 storage
    from localize.export import export_onnx

    onnx_ens = load_localizer(export_onnx(ens_path, tmp_path / "ens.onnx"))
    np.testing.assert_allclose(onnx_ens.predict(x)[0], ens.predict(x)[0], atol=1e-4)
    # members must be runs of one config on the same videos; nothing is written otherwise
    other = torch.load(res.best, map_location="cpu", weights_only=False)
    other["data"] = {**other["data"], "val": {**other["data"]["val"], "videos": 999}}
    torch.save(other, tmp_path / "other.pt")
    assert T.main(["--package", str(res.best), str(tmp_path / "other.pt"), str(tmp_path / "bad.pt")]) == 2
    assert T.main(["--package", str(tmp_path / "bad.pt")]) == 2
    assert T.main(["--package", str(res.best), str(tmp_path / "nope.pt"), str(tmp_path / "bad.pt")]) == 2
    assert not (tmp_path / "bad.pt").exists()


def test_crop_bundle_trains_on_the_same_pixels_without_the_videos(forge_corpus, tmp_path):
    """--export-bundle: the config's crops, lossless, with splits and manifest hash; a config
    with data.bundle (no sources) trains from it as from the crop cache."""
    cfg = ci_config(forge_corpus, tmp_path / "run", tmp_path / "cache")
    assert T.main(["-c", str(ROOT / "configs" / "ci.yaml"), "--export-bundle", str(tmp_path / "bundle"), "--quiet",
                   *sum((["--set", o] for o in (
                       f"data.sources={cfg['data']['sources']}", f"data.cache_dir={tmp_path / 'cache'}",
                       "model.input_size=64", "data.frames_per_video=4")), [])]) == 0
    assert (tmp_path / "bundle" / "bundle.json").is_file()
    assert not list(tmp_path.glob(".bundle.*"))  # no temporary folder left behind
    want = T.prepare_data(cfg, progress=False)
    bcfg = ci_config(forge_corpus, tmp_path / "run", tmp_path / "cache", "data.sources=[]",
                     f"data.bundle={tmp_path / 'bundle'}")
    got = T.prepare_data(bcfg, progress=False)
    assert got[2] == want[2] and got[3] == want[3]  # manifest hash, summary
    for a, b in zip(want[0] + want[1], got[0] + got[1]):
        assert a.source == b.source
        for k in ("images", "masks", "landmarks", "frames"):
            np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    # a lossy bundle (--bundle-quality) is smaller, holds the same frames and masks, and says so in its hash
    lcfg = dict(cfg, data=dict(cfg["data"], cache_dir=str(tmp_path / "cache")))
    lossy = T.export_bundle(lcfg, tmp_path / "lossy", progress=False, quality=90)
    assert lossy["image_codec"] == "webp-q90"
    assert lossy["bytes"] < 0.6 * sum(f.stat().st_size for f in (tmp_path / "bundle").iterdir())
    lgot = T.prepare_data(ci_config(forge_corpus, tmp_path / "run", tmp_path / "cache", "data.sources=[]",
                                    f"data.bundle={tmp_path / 'lossy'}"), progress=False)
    assert lgot[2] == want[2] + "+webp-q90"
    for a, b in zip(want[0] + want[1], lgot[0] + lgot[1]):
        np.testing.assert_array_equal(a.masks, b.masks)
        np.testing.assert_array_equal(a.frames, b.frames)
        assert 0 < np.abs(a.images.astype(int) - b.images).mean() < 6
    assert T.main(["-c", str(ROOT / "configs" / "ci.yaml"), "--export-bundle", str(tmp_path / "bad"), "--quiet",
                   "--bundle-quality", "0", "--set", f"data.sources={cfg['data']['sources']}"]) == 2
    assert not (tmp_path / "bad").exists()
    # a bundle is not overwritten, its crop parameters must be the config's, sources exclude it
    assert T.main(["-c", str(ROOT / "configs" / "ci.yaml"), "--export-bundle", str(tmp_path / "bundle"), "--quiet",
                   "--set", f"data.sources={cfg['data']['sources']}"]) == 2
    with pytest.raises(InputError, match="config asks for"):
        T.prepare_data(ci_config(forge_corpus, tmp_path / "r", tmp_path / "c", "data.sources=[]",
                                 f"data.bundle={tmp_path / 'bundle'}", "model.input_size=96"), progress=False)
    with pytest.raises(InputError, match="only one"):
        T.prepare_data(ci_config(forge_corpus, tmp_path / "r", tmp_path / "c", f"data.bundle={tmp_path / 'bundle'}"),
                       progress=False)
    with pytest.raises(InputError, match="not a crop bundle"):
        T.prepare_data(ci_config(forge_corpus, tmp_path / "r", tmp_path / "c", "data.sources=[]",
                                 f"data.bundle={tmp_path}"), progress=False)
    # training from it, stopped by the time limit at an epoch boundary, then resumed exactly
    run = tmp_path / "brun"
    res = T.train(ci_config(forge_corpus, run, tmp_path / "cache", "data.sources=[]", f"data.bundle={tmp_path / 'bundle'}",
                            "train.epochs=3", "train.time_limit_min=1e-6", "train.stop_at_epoch_end=true"))
    assert res.epochs == 1 and [int(r["step"]) for r in csv.DictReader(open(run / "log.csv"))] == [3]
    res = T.train(ci_config(forge_corpus, run, tmp_path / "cache", "data.sources=[]", f"data.bundle={tmp_path / 'bundle'}",
                            "train.epochs=3"), resume=True)
    assert res.epochs == 3 and [int(r["step"]) for r in csv.DictReader(open(run / "log.csv"))] == [3, 6, 9]
    # a run resumes only on the data it started on (e.g. carried to a machine whose bundle differs)
    import torch

    other = tmp_path / "other"
    other.mkdir()
    payload = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    torch.save({**payload, "data_manifest_hash": "0" * 64}, other / "last.pt")
    with pytest.raises(InputError, match="this run trained on data 00000000"):
        T.train(ci_config(forge_corpus, other, tmp_path / "cache", "data.sources=[]",
                          f"data.bundle={tmp_path / 'bundle'}", "train.epochs=4"), resume=True)
    assert sorted(p.name for p in other.iterdir()) == ["last.pt"]
    # runs trained on another machine are ensembled here with --set telling where their data is
    (tmp_path / "bundle").rename(tmp_path / "moved")
    args = ["--package", str(run / "best.pt"), str(run / "last.pt"), str(tmp_path / "ens.pt")]
    assert T.main(args) == 2 and not (tmp_path / "ens.pt").exists()
    assert T.main(args + ["--set", f"data.bundle={tmp_path / 'moved'}"]) == 0 and (tmp_path / "ens.pt").exists()
    assert T.main(["--package", str(run / "last.pt"), str(tmp_path / "one.pt"), "--set", "data.bundle=x"]) == 2


def test_cli_errors(tmp_path, capsys):
    assert T.main(["--config", str(tmp_path / "nope.yaml")]) == 2
    # an ensemble is packaged from separate runs, never trained as one model
    assert T.main(["--set", "model.members=2", "--data", str(tmp_path), "--set", "train.out=" + str(tmp_path / "o")]) == 2
    assert "model.members > 1 is a seed ensemble" in capsys.readouterr().err
    assert T.main(["--set", "train.out=" + str(tmp_path / "o")]) == 2  # no data sources
    assert not (tmp_path / "o" / "best.pt").exists()


DDP_SCRIPT = """
import hashlib, json, sys
import torch
from localize import training as T
sys.path.insert(0, {tests!r})
from test_training import ci_config
from pathlib import Path
cfg = ci_config(Path({corpus!r}), Path({out!r}), Path({cache!r}), "train.epochs=1", "train.steps_per_epoch=3")
res = T.train(cfg)
rank = torch.distributed.get_rank()
h = hashlib.sha256()
for k, v in sorted(res.model.state_dict().items()):
    h.update(k.encode()); h.update(v.detach().cpu().numpy().tobytes())
Path({out!r}, f"rank{{rank}}.json").write_text(json.dumps({{"sha": h.hexdigest(), "world": torch.distributed.get_world_size()}}))
"""


def test_ddp_two_cpu_ranks_end_with_identical_weights(forge_corpus, tmp_path):
    out, cache = tmp_path / "ddp", tmp_path / "cache"
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT.format(tests=str(ROOT / "tests"), corpus=str(forge_corpus), out=str(out),
                                        cache=str(cache)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = (json.loads((out / f"rank{i}.json").read_text()) for i in (0, 1))
    assert a["world"] == b["world"] == 2
    assert a["sha"] == b["sha"]
    # the weights moved from their initialisation (the ranks really trained)
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert len(rows) == 1 and int(rows[0]["step"]) == 3


def test_calibrate_refits_the_operating_point_on_analysis_scores(forge_corpus, tmp_path):
    """`localize calibrate`: validation videos scored exactly as `localize analyze` scores
    them; the new calibration replaces the training loop's, which is kept beside it."""
    import torch
    import yaml

    from localize import calibrate as C
    from localize.cli import main as cli_main
    from localize.decision import fit_calibration
    from localize.model import ModelConfig, build_model, load_localizer, save_checkpoint

    from localize.media import astronaut_image
    from localize.video import write_image

    cfg = ci_config(forge_corpus, tmp_path / "run", tmp_path / "cache")
    (tmp_path / "photos").mkdir()
    write_image(tmp_path / "photos" / "astronaut.png", astronaut_image())  # a real photo among the reals
    cfg["data"]["sources"].append({"path": str(tmp_path / "photos"), "kind": "reals", "identity": "eileen_collins",
                                   "split": "val", "photos": True})
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    vals = C.validation_sources(cfg)
    assert {s.label for s in vals} == {0, 1}
    torch.manual_seed(0)
    mcfg = ModelConfig(encoder="mobilenet_v2", input_size=64, encoder_depth=3, decoder_channels=(16, 8, 8))
    loop_cal = fit_calibration([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]).to_dict()
    save_checkpoint(tmp_path / "m.pt", build_model(mcfg), mcfg, model_id="cal-test", calibration=loop_cal)
    cal = C.calibrate(tmp_path / "m.pt", cfg_path, tmp_path / "cal.pt", frames=4, backend="torch")
    assert "localize analyze" in cal["fitted_on"] and len(cal["videos"]) == len(vals)
    reals = [v["score"] for v in cal["videos"] if v["label"] == 0 and not v["video"].endswith(".png")]
    assert reals and max(reals) <= cal["threshold"] and cal["val_fpr"] == 0.0
    photo = [v["score"] for v in cal["videos"] if v["video"].endswith(".png")]
    assert len(photo) == 1 and cal["n_real_still"] == 1 and cal["still_threshold"] >= max(photo[0], cal["threshold"])
    assert "1 photos" in cal["fitted_on"]
    loc = load_localizer(tmp_path / "cal.pt")
    assert loc.calibration["threshold"] == cal["threshold"]
    assert loc.meta["calibration_training_loop"]["threshold"] == loop_cal["threshold"]
    # the analysis pipeline now reproduces the calibration's validation scores
    from localize.analyze import AnalyzeOptions, analyze_path

    r = analyze_path(vals[0].video, tmp_path / "a", localizer=loc, options=AnalyzeOptions(count=4, overlay=False,
                                                                                          key_frames=0))
    assert r.score == pytest.approx(cal["videos"][0]["score"])
    # bad input: one clear error, nothing written
    assert cli_main(["calibrate", str(tmp_path / "nope.pt"), "-c", str(cfg_path), "--out", str(tmp_path / "x.pt")]) == 2
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert cli_main(["calibrate", str(tmp_path / "junk.pt"), "-c", str(cfg_path), "--out", str(tmp_path / "x.pt")]) == 2
    assert not (tmp_path / "x.pt").exists()
    # a config whose sources are left to the user (configs/ffpp.yaml) gets them from --set
    import json

    empty = dict(cfg, data=dict(cfg["data"], sources=[]))
    (tmp_path / "empty.yaml").write_text(yaml.safe_dump(empty))
    assert cli_main(["calibrate", str(tmp_path / "m.pt"), "-c", str(tmp_path / "empty.yaml"), "--frames", "2",
                     "--backend", "torch", "--out", str(tmp_path / "set.pt"),
                     "--set", f"data.sources={json.dumps(cfg['data']['sources'])}"]) == 0
    assert len(load_localizer(tmp_path / "set.pt").calibration["videos"]) == len(vals)
    assert cli_main(["calibrate", str(tmp_path / "m.pt"), "--set", "data.frames_per_video=2",
                     "--reals", str(tmp_path / "photos"), "--out", str(tmp_path / "y.pt")]) == 2  # --set needs -c
    assert not (tmp_path / "y.pt").exists()


def test_calibrate_on_an_analysts_own_footage(forge_corpus, tmp_path, capsys):
    """`localize calibrate MODEL --reals DIR [--fakes DIR]`: the operating point set on the
    analyst's verified footage (no training config needed); reals alone keep the model's curve;
    unreadable files are all named and nothing is written."""
    import shutil

    import torch

    from localize import calibrate as C
    from localize.cli import main as cli_main
    from localize.decision import Calibration, fit_calibration
    from localize.media import astronaut_image
    from localize.model import ModelConfig, build_model, save_checkpoint
    from localize.video import write_image

    reals, fakes = tmp_path / "reals", tmp_path / "fakes"
    (reals / "clips").mkdir(parents=True)
    fakes.mkdir()
    for v in sorted((forge_corpus / "original_sequences").rglob("c23/videos/*.mp4"))[:2]:
        shutil.copy(v, reals / "clips" / v.name)
    write_image(reals / "astronaut.png", astronaut_image())
    fake = sorted((forge_corpus / "manipulated_sequences").rglob("c23/videos/*.mp4"))[0]
    shutil.copy(fake, fakes / fake.name)
    torch.manual_seed(0)
    mcfg = ModelConfig(encoder="mobilenet_v2", input_size=64, encoder_depth=3, decoder_channels=(16, 8, 8))
    old = fit_calibration([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    save_checkpoint(tmp_path / "m.pt", build_model(mcfg), mcfg, model_id="own-footage", calibration=old.to_dict())

    cal = C.calibrate(tmp_path / "m.pt", None, tmp_path / "own.pt", reals=[reals], frames=4, backend="torch")
    vids = [v for v in cal["videos"] if v["video"].endswith(".mp4")]
    assert len(vids) == 2 and len(cal["videos"]) == 3 and all(v["label"] == 0 for v in cal["videos"])
    assert cal["threshold"] > max(v["score"] for v in vids) and cal["val_fpr"] == 0.0 and cal["val_tpr"] is None
    assert cal["n_real_still"] == 1 and cal["still_threshold"] >= cal["threshold"]
    new = Calibration.from_dict(cal)
    assert new.probability(new.threshold) == pytest.approx(old.probability(old.threshold))
    assert "own footage" in cal["fitted_on"] and "TPR at this point unknown" in cal["note"]
    written = torch.load(tmp_path / "own.pt", weights_only=False)
    assert written["calibration_training_loop"]["threshold"] == old.threshold
    # with known fakes the curve is refitted and the TPR measured
    both = C.calibrate(tmp_path / "m.pt", None, tmp_path / "both.pt", reals=[reals / "clips"], fakes=[fakes],
                       frames=4, backend="torch")
    assert both["n_fake"] == 1 and both["val_tpr"] is not None
    # bad input: a corrupt clip among the reals, a wrong path, nothing to calibrate on, no curve to keep
    (reals / "clips" / "broken.mp4").write_bytes(b"\x00" * 64)
    out = tmp_path / "never.pt"
    assert cli_main(["calibrate", str(tmp_path / "m.pt"), "--reals", str(reals), "--out", str(out),
                     "--frames", "4"]) == 2
    err = capsys.readouterr().err
    assert "broken.mp4" in err and "nothing was written" in err and not out.exists()
    assert cli_main(["calibrate", str(tmp_path / "m.pt"), "--reals", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert "nope: no such file" in capsys.readouterr().err
    assert cli_main(["calibrate", str(tmp_path / "m.pt"), "--out", str(out)]) == 2
    assert "give --config and/or --reals" in capsys.readouterr().err
    save_checkpoint(tmp_path / "u.pt", build_model(mcfg), mcfg, model_id="uncal")
    one = reals / "clips" / Path(vids[0]["video"]).name
    assert cli_main(["calibrate", str(tmp_path / "u.pt"), "--reals", str(one), "--out", str(out)]) == 2
    assert "--fakes" in capsys.readouterr().err and not out.exists()


def test_fold_assignment_keeps_each_person_in_one_fold(tmp_path):
    from localize import data as D

    def src(ident, split=None):
        return D.VideoSource(key=f"k/{ident}/{split}", video=Path(f"/x/{ident}.mp4"), label=0, identity=ident,
                             split=split)

    srcs = [src("a", "fold0"), src("a", "fold0"), src("b", "fold1"), src("c"), src("d"), src("e"), src("f")]
    f = D.fold_of(srcs, 3, seed=0)
    assert f["a"] == 0 and f["b"] == 1 and sorted(f) == list("abcdef")
    assert sorted(list(f.values()).count(j) for j in range(3)) == [2, 2, 2]  # free identities fill the small folds
    assert D.fold_of(srcs, 3, seed=0) == f  # deterministic, whatever the training seed
    sp = D.fold_splits(f, 1, 3)
    assert sp["b"] == "val" and sp["a"] == "train" and list(sp.values()).count("val") == 2
    assert D.assign_splits(srcs, 0.2, 0, fold=(1, 3)) == sp  # val_fraction ignored; the seed is data.fold_seed
    with pytest.raises(InputError, match="both fold0 and fold1"):
        D.fold_of(srcs + [src("a", "fold1")], 3)
    # a person a forge corpus used only as a face (photos, no video: no pair carries the label)
    # keeps the corpus's fold, else that fold's fakes would show a validation person's face
    (tmp_path / "manifest.json").write_text(json.dumps({"created_by": "localize forge", "identity_splits": {
        "a": "fold0", "f": "fold2", "old": "train"}}))
    labels = D.forge_folds(tmp_path)
    assert labels == {"a": 0, "f": 2}
    f2 = D.fold_of(srcs, 3, seed=0, labels=labels)
    assert f2["f"] == 2 and f2["a"] == 0
    with pytest.raises(InputError, match="data.folds is 2"):
        D.fold_of(srcs, 2, labels=labels)
    # people linked by a fake (FF++ a_b and b_a, or any face swap) share a fold, whoever deals them
    pair = [D.VideoSource(key=f"ff/{t}_{f}", video=Path(f"/x/{t}_{f}.mp4"), label=1, identity=t, face_identity=f)
            for t, f in (("p1", "p2"), ("p2", "p1"), ("p3", "p4"), ("p4", "p3"), ("p5", "p6"), ("p6", "p5"))]
    for seed in range(5):
        g = D.fold_of(pair, 3, seed=seed)
        assert g["p1"] == g["p2"] and g["p3"] == g["p4"] and g["p5"] == g["p6"]
        assert sorted(g.values()) == [0, 0, 1, 1, 2, 2]
    with pytest.raises(InputError, match="a fake links them"):
        D.fold_of(pair + [src("p1", "fold0"), src("p2", "fold1")], 3)
    with pytest.raises(InputError, match="data.folds is 2"):
        D.fold_of([src("a", "fold2")], 2)
    with pytest.raises(InputError, match="at least 2"):
        D.fold_of(srcs, 1)
    with pytest.raises(InputError, match="data.fold must be in 0..2"):
        D.fold_splits(f, 3, 3)


def test_cross_fitting_from_forge_folds_to_an_out_of_fold_calibrated_ensemble(tmp_path, capsys, caplog):
    """`localize forge --folds 2` deals people into folds (a fake's target and face share one);
    each fold trains on the others (`data.folds`, `data.fold`); packaging the runs validates
    out of fold, so the operating point rests on every real video of the corpus."""
    import torch

    from localize.forge.corpus import build_corpus
    from localize.model import load_localizer

    corpus = tmp_path / "forge"
    build_corpus(corpus, methods=["faceswap", "selfblend"], max_frames=40, segment=20, folds=2, progress=False)
    man = json.loads((corpus / "manifest.json").read_text())
    assert set(man["identity_splits"].values()) == {"fold0", "fold1"}
    assert sorted(p.name for p in (corpus / "splits").iterdir()) == ["fold0.json", "fold1.json"]
    person = {r["id"]: r["identity"] for r in man["reals"] + man["photos"]}
    for f in man["fakes"]:  # no fake mixes folds (a face swap without a partner in its fold is skipped)
        fold = man["identity_splits"]
        assert fold[person[f["target"]]] == fold[person.get(f["source"], person[f["target"]])]
    assert any("in its fold" in s.get("reason", "") for s in man["skipped"])
    # the pair reader names each video's person (the forge manifest), not its id
    from localize import data as D

    idents = {s.identity for s in D.sources_from_pairs(corpus)}
    assert idents == set(man["identity_splits"]) - {p["identity"] for p in man["photos"]
                                                   if p["identity"] not in {r["identity"] for r in man["reals"]}}
    assert {s.identity for s in D.sources_from_pairs(corpus, identity="video")} <= set(person)

    runs = []
    for fold in (0, 1):
        cfg = ci_config(corpus, tmp_path / f"f{fold}", tmp_path / "cache", "data.folds=2", f"data.fold={fold}")
        cfg["data"]["sources"][0].pop("split_map", None)
        res = T.train(cfg)
        data = json.loads((tmp_path / f"f{fold}" / "data.json").read_text())
        assert set(data["val"]["identities"]) <= {i for i, s in man["identity_splits"].items() if s == f"fold{fold}"}
        assert not set(data["train"]["identities"]) & set(data["val"]["identities"])
        assert f"-f{fold}of2" in load_localizer(res.last).model_id
        runs.append(res.last)
    reals_per_fold = [json.loads((tmp_path / f"f{j}" / "data.json").read_text())["val"]["real_videos"] for j in (0, 1)]
    dst = tmp_path / "cf.pt"
    assert T.main(["--package", str(runs[0]), str(runs[1]), str(dst)]) == 0
    ens = load_localizer(dst)
    assert ens.meta["cross_fit"]["folds"] == 2 and [m["fold"] for m in ens.meta["ensemble_of"]] == [0, 1]
    assert ens.calibration["fitted_on"].startswith("out of fold")
    assert ens.calibration["n_real"] == sum(reals_per_fold)  # every real video of both folds sets the point
    assert "-cf2x2" in ens.model_id and len(ens._impl.members) == 2
    # the runs of one fold make an ordinary seed ensemble of that fold (validated on its fold)
    assert T.main(["--package", str(runs[0]), str(runs[0]), str(tmp_path / "f0.pt")]) == 0
    assert load_localizer(tmp_path / "f0.pt").model_id.endswith("-f0of2")
    # its members saw every validation video but their own fold's: `localize calibrate` with its
    # config scores each fold's videos by that fold's runs alone (out of fold), as analysis does
    import yaml

    from localize import calibrate as C
    from localize.analyze import open_localizer

    cfg_path = tmp_path / "cf.yaml"
    cfg_path.write_text(yaml.safe_dump(ci_config(corpus, tmp_path / "f0", tmp_path / "cache", "data.folds=2")))
    cal = C.calibrate(dst, cfg_path, tmp_path / "recal.pt", frames=4, backend="torch")
    assert "out of fold" in cal["fitted_on"] and {v.get("fold") for v in cal["videos"]} == {0, 1}
    assert sum(1 for v in cal["videos"] if v["label"] == 0) == cal["n_real"]
    one = next(v for v in cal["videos"] if v.get("fold") == 0)
    alone, _ = C.score_media([Path(one["video"])], open_localizer(tmp_path / "f0.pt", "torch"), 4)
    assert alone[0] == pytest.approx(one["score"], abs=1e-6)  # fold 0's run, not the whole ensemble
    with pytest.raises(InputError, match="2-fold cross-fitting config"):  # a config that is not this model's
        C.calibrate(dst, ROOT / "configs" / "ci.yaml", tmp_path / "recal2.pt")
    assert not (tmp_path / "recal2.pt").exists()
    # a fold without a run, or a run of another config, is refused and nothing is written
    for n, run in enumerate(runs):
        three = torch.load(run, map_location="cpu", weights_only=False)
        three["config"]["data"]["folds"] = 3
        torch.save(three, tmp_path / f"three{n}.pt")
    three = [str(tmp_path / "three0.pt"), str(tmp_path / "three1.pt")]
    assert T.main(["--package", *three, str(tmp_path / "bad.pt")]) == 2
    assert "no run for fold(s) [2] of 3" in capsys.readouterr().err
    other = torch.load(runs[1], map_location="cpu", weights_only=False)
    other["config"]["train"]["lr"] = 0.5
    torch.save(other, tmp_path / "other.pt")
    assert T.main(["--package", str(runs[0]), str(tmp_path / "other.pt"), str(tmp_path / "bad.pt")]) == 2
    assert not (tmp_path / "bad.pt").exists()
    # one crop bundle carries every fold's split: each fold trains from it without the videos
    cfg = ci_config(corpus, tmp_path / "f0", tmp_path / "cache", "data.folds=2", "data.fold=0")
    T.export_bundle(cfg, tmp_path / "bundle", progress=False)
    for fold in (0, 1):
        want = T.split_sources({**cfg, "data": {**cfg["data"], "fold": fold}})[1]
        _, got, _, _ = D.load_bundle(tmp_path / "bundle", T._crop_params(cfg), fold=(fold, 2))
        assert got == {k: v for k, v in want.items() if k in got} and set(got.values()) == {"train", "val"}
    with pytest.raises(InputError, match="exported with 2 folds"):
        D.load_bundle(tmp_path / "bundle", T._crop_params(cfg), fold=(0, 3))
    # a bundle of older crop rules stays readable (a past candidate's exact crops), with a warning;
    # one of newer rules than this code knows, or of another format, is refused
    index_path = tmp_path / "bundle" / "bundle.json"
    index = json.loads(index_path.read_text())
    for version, ok in ((D.CACHE_VERSION - 1, True), (D.CACHE_VERSION + 1, False), (None, False)):
        index_path.write_text(json.dumps({**index, "cache_version": version}))
        if ok:
            with caplog.at_level("WARNING", logger="localize.data"):
                D.load_bundle(tmp_path / "bundle", T._crop_params(cfg), fold=(0, 2))
            assert f"crop-cache version {version}" in caplog.text
        else:
            with pytest.raises(InputError, match="export it again"):
                D.load_bundle(tmp_path / "bundle", T._crop_params(cfg), fold=(0, 2))


def test_shipping_rule_counts_distinct_real_footage(forge_corpus):
    """Addendum 5: the built-in corpus's reals are segments of one clip and animations of one
    photo: its validation identity's several reals are 1 piece of footage, all of them 2."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("shipping_rule", ROOT / "benchmarks" / "shipping_rule.py")
    rule = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rule)
    cfg = T.load_config(None, [f"data.sources=[{{path: '{forge_corpus}', kind: pairs, compressions: [c23], "
                                "split_map: {test: val}}]"])
    sources, splits = T.split_sources(cfg)
    assert sum(1 for s in sources if s.label == 0 and splits[s.identity] == "val") >= 2  # several clips, one photo
    assert len(rule.real_validation_footage(cfg, cross_fit=False)) == 1  # one identity, one piece of footage
    everything = rule.real_validation_footage(cfg, cross_fit=True)
    assert len(everything) == 2 and any(p.endswith("carphone_pristine.mp4") for p in everything)
    assert any(p.endswith("builtin:astronaut") for p in everything)
    # addendum 6: real videos the operating point was set on that no run trained on count too;
    # a training video used that way (in-sample) and photos do not
    trained = next(s.video for s in sources if s.label == 0 and splits[s.identity] == "train")
    cal = {"videos": [{"video": "/elsewhere/new.mp4", "label": 0, "score": 0.1},
                      {"video": str(trained), "label": 0, "score": 0.1},
                      {"video": "/elsewhere/photo.jpg", "label": 0, "score": 0.1},
                      {"video": "/elsewhere/fake.mp4", "label": 1, "score": 0.9}]}
    assert rule.real_validation_footage(cfg, cross_fit=False, calibration=cal) == sorted(
        rule.real_validation_footage(cfg, cross_fit=False) + ["/elsewhere/new.mp4"])


def test_recipe_hash_names_the_model_not_the_machine():
    from localize.training import load_config, recipe_hash

    cfg = load_config(None)
    base = recipe_hash(cfg)
    # where and how a run is carried out leaves the id alone (a run resumed or trained elsewhere)
    for key, value in (("train.out", "elsewhere"), ("train.threads", 1), ("data.num_workers", 7),
                       ("data.bundle", "/root/bundle"), ("data.fold", 3), ("train.time_limit_min", 9)):
        part, k = key.split(".")
        other = load_config(None)
        other[part][k] = value
        assert recipe_hash(other) == base, key
    other = load_config(None)
    other["model"]["encoder_weights"] = "/some/path.pth"  # the path alone: the values decide
    assert recipe_hash(other) == base
    # what changes the model changes the id: the initial weights, the learning rate, the target
    assert recipe_hash(cfg, {"tensors_sha256": "ab" * 32}) != base
    for key, value in (("train.lr", 0.123), ("data.target", "xray"), ("model.encoder_depth", 3),
                       ("data.other_faces", True), ("data.low_light", 0.3)):
        part, k = key.split(".")
        other = load_config(None)
        other[part][k] = value
        assert recipe_hash(other) != base, key
    # a setting added later, at its default, leaves the recipes of earlier runs (no such key) alone
    older = load_config(None)
    del older["data"]["other_faces"], older["data"]["low_light"]
    assert recipe_hash(older) == base


def test_a_key_given_twice_in_a_config_is_refused(tmp_path):
    """PyYAML keeps the last of two equal keys silently; six cross-fit configs once carried a
    stray second `name:` and `seed:` that way."""
    from localize.errors import InputError
    from localize.fileio import read_yaml
    from localize.training import load_config

    p = tmp_path / "c.yaml"
    p.write_text("name: a\nseed: 0\nmodel:\n  encoder: resnet18\nname: b\n")
    with pytest.raises(InputError, match=r"c\.yaml: not valid YAML \(duplicate key 'name' \(first on line 1\)"):
        load_config(p)
    p.write_text("model:\n  encoder: resnet18\n  encoder: mobilenet_v2\n")
    with pytest.raises(InputError, match="duplicate key 'encoder'"):
        load_config(p)
    # every shipped config passes
    for c in sorted((Path(__file__).resolve().parents[1] / "localize" / "configs").glob("*.yaml")):
        assert isinstance(read_yaml(c), dict), c


def test_channels_last_changes_how_a_step_runs_not_what_it_computes(forge_corpus, tmp_path):
    """train.channels_last (NHWC) gives one step the same loss and gradients to floating-point
    order, leaves the recipe (model id) alone, and a run started without it resumes with it."""
    import torch

    from localize.model import ModelConfig, build_model

    cfg = ci_config(forge_corpus, tmp_path / "a", tmp_path / "cache", "train.epochs=1")
    cl = ci_config(forge_corpus, tmp_path / "a", tmp_path / "cache", "train.epochs=2", "train.channels_last=true")
    assert T.recipe_hash(cfg) == T.recipe_hash({**cfg, "train": {**cfg["train"], "channels_last": True}})
    g = torch.Generator().manual_seed(0)
    batch = (torch.randn(4, 3, 64, 64, generator=g), (torch.rand(4, 1, 64, 64, generator=g) > 0.5).float(),
             torch.tensor([0.0, 1.0, 0.0, 1.0]))
    grads, losses = [], []
    for c in (cfg, cl):
        torch.manual_seed(0)
        m = build_model(ModelConfig.from_dict(c["model"]))
        if c["train"]["channels_last"]:
            m = m.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(m.parameters(), lr=0.0)
        losses.append(T.train_step(m, m, batch, opt, None, torch.amp.GradScaler("cuda", enabled=False), c,
                                   torch.device("cpu")))
        grads.append({k: p.grad.clone() for k, p in m.named_parameters() if p.grad is not None})
    assert abs(losses[0] - losses[1]) < 1e-4 and grads[0].keys() == grads[1].keys()
    # gradients as a whole (single parameters whose true gradient is ~0, e.g. biases before batch
    # norm, are noise either way): about 1 % apart, as one and two CPU threads are in NCHW
    diff = sum(((grads[0][k] - grads[1][k]) ** 2).sum() for k in grads[0]).sqrt()
    assert diff / sum((v ** 2).sum() for v in grads[0].values()).sqrt() < 0.05
    assert T.train(cfg).epochs == 1 and T.train(cl, resume=True).epochs == 2


def test_validate_every_skips_validation_between_and_keeps_the_log_aligned(forge_corpus, tmp_path):
    """train.validate_every: epochs between validations log blank val_* cells (the CSV columns stay
    aligned), their checkpoints carry the latest metrics with metrics_epoch, and the last epoch is
    always validated, also after a resume."""
    import torch

    def run(*more):
        return T.train(ci_config(forge_corpus, tmp_path / "run", tmp_path / "cache", "train.epochs=3",
                                 "train.validate_every=5", "train.stop_at_epoch_end=true", *more), resume=True)

    assert run("train.time_limit_min=1e-6").epochs == 1  # the first epoch is validated
    assert run("train.time_limit_min=1e-6").epochs == 2  # resumed: epoch 2 is not
    last = torch.load(tmp_path / "run" / "last.pt", map_location="cpu", weights_only=False)
    assert (last["epoch"], last["metrics_epoch"]) == (2, 1) and "iou" in last["metrics"]
    assert run().epochs == 3
    rows = list(csv.DictReader(open(tmp_path / "run" / "log.csv")))
    assert [r["val_iou"] != "" for r in rows] == [True, False, True]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3] and rows[1]["train_loss"] != ""
    last = torch.load(tmp_path / "run" / "last.pt", map_location="cpu", weights_only=False)
    assert (last["epoch"], last["metrics_epoch"]) == (3, 3)
    assert T.recipe_hash(T.load_config(ROOT / "configs" / "ci.yaml", ["train.validate_every=5"])) == \
        T.recipe_hash(T.load_config(ROOT / "configs" / "ci.yaml"))
