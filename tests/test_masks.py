"""Ground-truth masks: pair readers, alignment refusal, derivation, dataset runner, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from localize.errors import InputError
from localize.video import read_frames, read_image, write_image, write_video
from masks.align import AlignmentError
from masks.derive import MaskParams, derive_image_masks, derive_video_masks, mask_iou
from masks.pairs import derived_mask_path, find_pairs

N = 30  # frames of the synthetic pairs


# ------------------------------------------------------------------ readers
def _touch(root: Path, *rels: str) -> None:
    for rel in rels:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_ffpp_reader_pairs_splits_dfd_masks_and_missing(tmp_path):
    _touch(tmp_path,
           "original_sequences/youtube/c23/videos/000.mp4",
           "original_sequences/youtube/c23/videos/003.mp4",
           "original_sequences/youtube/raw/videos/004.mp4",
           "original_sequences/actors/c23/videos/01__talking_against_wall.mp4",
           "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4",
           "manipulated_sequences/Deepfakes/c23/videos/003_000.mp4",
           "manipulated_sequences/Deepfakes/masks/videos/000_003.mp4",
           "manipulated_sequences/NeuralTextures/c40/videos/000_003.mp4",
           "manipulated_sequences/FaceSwap/c0/videos/004_009.mp4",
           "manipulated_sequences/FaceSwap/c23/videos/notes.mp4",
           "manipulated_sequences/DeepFakeDetection/c23/videos/01_02__talking_against_wall__YVGY8LOK.mp4",
           "manipulated_sequences/DeepFakeDetection/c23/videos/01_03__outside_talking__ABCDEFGH.mp4")
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits/train.json").write_text(json.dumps([["000", "003"]]))
    (tmp_path / "splits/test.json").write_text(json.dumps([["004", "009"]]))
    pairs = {p.key: p for p in find_pairs(tmp_path)}
    assert len(pairs) == 7

    p = pairs["Deepfakes/c23/000_003"]
    assert p.ok and p.original == tmp_path / "original_sequences/youtube/c23/videos/000.mp4"
    assert (p.method, p.compression, p.split, p.target, p.source) == ("Deepfakes", "c23", "train", "000", "003")
    assert p.mask == tmp_path / "manipulated_sequences/Deepfakes/masks/videos/000_003.mp4"
    # the reversed pair is in the same split; it has no official mask
    q = pairs["Deepfakes/c23/003_000"]
    assert q.ok and q.split == "train" and q.mask is None and q.original.name == "003.mp4"
    # a fake pairs with its original at the SAME compression; the reason says what exists
    nt = pairs["NeuralTextures/c40/000_003"]
    assert not nt.ok and "c40/videos/000.mp4 is missing" in nt.problem and "c23" in nt.problem
    # raw and c0 are one level
    fs = pairs["FaceSwap/c0/004_009"]
    assert fs.ok and fs.original.parent.parent.name == "raw" and fs.split == "test"
    assert not pairs["FaceSwap/c23/notes"].ok
    dfd = pairs["DeepFakeDetection/c23/01_02__talking_against_wall__YVGY8LOK"]
    assert dfd.ok and dfd.original == tmp_path / "original_sequences/actors/c23/videos/01__talking_against_wall.mp4"
    assert (dfd.target, dfd.source, dfd.split) == ("01", "02", None)
    missing = pairs["DeepFakeDetection/c23/01_03__outside_talking__ABCDEFGH"]
    assert not missing.ok and "01__outside_talking.mp4 is missing" in missing.problem
    # derived outputs mirror the input layout
    assert derived_mask_path(tmp_path / "out", p) == \
        tmp_path / "out/manipulated_sequences/Deepfakes/c23/videos/000_003.mask.mp4"


def test_dfdc_reader_folder_of_folders(tmp_path):
    _touch(tmp_path, "part_0/a.mp4", "part_0/real.mp4", "part_0/b.mp4", "part_1/c.mp4", "part_1/d.mp4")
    (tmp_path / "part_0/metadata.json").write_text(json.dumps({
        "a.mp4": {"label": "FAKE", "original": "real.mp4", "split": "train"},
        "real.mp4": {"label": "REAL", "split": "train"},
        "b.mp4": {"label": "FAKE", "original": "gone.mp4"}}))
    (tmp_path / "part_1/metadata.json").write_text(json.dumps({
        "c.mp4": {"label": "FAKE", "original": "real.mp4"},  # original lives in part_0
        "d.mp4": {"label": "REAL"}}))
    pairs = {p.key: p for p in find_pairs(tmp_path)}
    assert set(pairs) == {"part_0/a", "part_0/b", "part_1/c"}
    assert pairs["part_0/a"].ok and pairs["part_0/a"].split == "train" and pairs["part_0/a"].method == "DFDC"
    assert pairs["part_1/c"].ok and pairs["part_1/c"].original == tmp_path / "part_0/real.mp4"
    assert not pairs["part_0/b"].ok and "gone.mp4 is missing" in pairs["part_0/b"].problem
    # a single DFDC folder works too
    assert {p.key for p in find_pairs(tmp_path / "part_1")} == {"c"}


def test_csv_reader_relative_paths_header_and_no_header(tmp_path):
    _touch(tmp_path, "v/o1.mp4", "v/f1.mp4", "v/f2.mp4")
    (tmp_path / "pairs.csv").write_text("original,manipulated,method,split\n"
                                        "v/o1.mp4,v/f1.mp4,ghost,test\n"
                                        "v/missing.mp4,v/f2.mp4,,\n")
    pairs = find_pairs(tmp_path / "pairs.csv")
    assert [p.key for p in pairs] == ["v/f1", "v/f2"]
    assert pairs[0].ok and pairs[0].original == tmp_path / "v/o1.mp4"
    assert (pairs[0].method, pairs[0].split) == ("ghost", "test")
    assert not pairs[1].ok and "missing.mp4 is missing" in pairs[1].problem
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/list.csv").write_text("../v/o1.mp4,../v/f1.mp4\n")
    (p,) = find_pairs(tmp_path / "sub")  # a folder holding exactly one CSV
    assert p.ok and p.original.resolve() == (tmp_path / "v/o1.mp4").resolve()


def test_unknown_layouts_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        find_pairs(tmp_path / "nope")
    with pytest.raises(InputError, match="unknown dataset layout"):
        find_pairs(tmp_path)


# ------------------------------------------------------------------ synthetic real-face pairs
def _face_ellipses(frames: np.ndarray, analyzer) -> np.ndarray:
    """A face-sized ellipse per frame, from landmarks (detected every 5th frame)."""
    import cv2

    out = np.zeros(frames.shape[:3], bool)
    lms = None
    for i, f in enumerate(frames):
        if i % 5 == 0:
            faces = analyzer.detect(f)
            lms = faces[0].landmarks if faces else lms
        m = np.zeros(f.shape[:2], np.uint8)
        x0, y0 = lms.min(0)
        x1, y1 = lms.max(0)
        cv2.ellipse(m, (int((x0 + x1) / 2), int((y0 + y1) / 2 + 2)), (int(0.36 * (x1 - x0)), int(0.42 * (y1 - y0))),
                    0, 0, 360, 1, -1)
        out[i] = m > 0
    return out


def _forge(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Replace the ellipse with a blurred, recoloured face (a crude swap)."""
    import cv2

    fake = frames.copy()
    for i, (f, m) in enumerate(zip(frames, masks)):
        alt = cv2.GaussianBlur(f, (0, 0), 2.0).astype(np.int16) + np.array([25, -10, 15], np.int16)
        fake[i][m] = np.clip(alt, 0, 255).astype(np.uint8)[m]
    return fake


@pytest.fixture(scope="module")
def synth(tmp_path_factory, carphone, face_analyzer):
    d = tmp_path_factory.mktemp("synth")
    frames = read_frames(carphone, range(N + 2))
    truth = _face_ellipses(frames, face_analyzer)
    fake = _forge(frames, truth)
    fps = 29.97
    write_video(d / "orig.mp4", frames[:N], fps, lossless=True)
    write_video(d / "fake.mp4", fake[:N], fps, lossless=True)
    write_video(d / "fake_extra.mp4", fake[:N + 1], fps, lossless=True)
    write_video(d / "fake_short.mp4", fake[:N - 3], fps, lossless=True)
    write_video(d / "fake_shift.mp4", fake[2:N + 2], fps, lossless=True)
    import cv2

    write_video(d / "fake_big.mp4", [cv2.resize(f, (208, 144)) for f in fake[:N]], fps, lossless=True)
    write_video(d / "orig_crf23.mp4", frames[:N], fps, crf=23)
    return {"dir": d, "truth": truth[:N], "frames": frames[:N], "fake": fake[:N]}


def test_derivation_matches_the_forged_region(synth, face_analyzer):
    d = synth["dir"]
    r = derive_video_masks(d / "orig.mp4", d / "fake.mp4", analyzer=face_analyzer)
    assert r.masks.shape == (N, 144, 192) and r.masks.dtype == bool  # carphone as shown (128:117 pixels)
    ious = [mask_iou(a, b) for a, b in zip(r.masks, synth["truth"])]
    assert np.mean(ious) >= 0.75, ious
    assert r.alignment.offset == 0 and r.alignment.trailing_dropped is None
    assert r.frames_without_face == 0 and r.noise["median"] < 0.5  # lossless: no codec noise
    assert abs(r.mean_area - synth["truth"].mean()) < 0.5 * synth["truth"].mean()


def test_a_pair_stored_with_different_pixel_aspects_aligns_as_shown(synth, face_analyzer, tmp_path):
    """An original kept anamorphic (176x144 stored, 128:117 pixels, as carphone itself) against a fake
    re-encoded with square pixels (192x144): both decode as a player shows them, so the pair aligns and
    the masks are in that geometry, not refused as a size mismatch."""
    import subprocess

    import imageio_ffmpeg

    d = synth["dir"]
    squeezed = tmp_path / "orig_sar.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(d / "orig.mp4"),
                    "-vf", "scale=176:144:flags=lanczos,setsar=128/117", "-c:v", "libx264", "-qp", "0", str(squeezed)],
                   check=True)
    r = derive_video_masks(squeezed, d / "fake.mp4", analyzer=face_analyzer)
    assert r.masks.shape == (N, 144, 192) and r.alignment.offset == 0
    assert np.mean([mask_iou(a, b) for a, b in zip(r.masks, synth["truth"])]) >= 0.7


def test_unchanged_frames_give_empty_masks(synth, face_analyzer):
    """A real video against its own CRF 23 re-encode: codec noise only, nothing forged."""
    d = synth["dir"]
    r = derive_video_masks(d / "orig.mp4", d / "orig_crf23.mp4", analyzer=face_analyzer)
    assert r.noise["median"] > 0.3  # there is noise...
    assert r.mean_area < 0.001 and (r.areas == 0).mean() >= 0.9  # ...and no mask


def test_trailing_extra_frame_is_reported_and_dropped(synth, face_analyzer):
    d = synth["dir"]
    r = derive_video_masks(d / "orig.mp4", d / "fake_extra.mp4", analyzer=face_analyzer)
    assert r.n_frames == N and r.alignment.trailing_dropped == "manipulated"
    assert (r.alignment.n_original, r.alignment.n_manipulated) == (N, N + 1)


@pytest.mark.parametrize("name, message", [
    ("fake_big.mp4", "frame size 208x144 differs"),
    ("fake_short.mp4", f"{N - 3} frames but the original has {N}"),
    ("fake_shift.mp4", "temporal offset"),
])
def test_misaligned_pairs_are_refused(synth, face_analyzer, name, message):
    import threading

    d = synth["dir"]
    before = threading.active_count()
    with pytest.raises(AlignmentError, match=message) as e:
        derive_video_masks(d / "orig.mp4", d / name, analyzer=face_analyzer)
    assert name in str(e.value) and "\n" not in str(e.value)
    assert threading.active_count() == before  # the decoding threads were stopped


def test_image_pair_and_size_mismatch(synth, face_analyzer, tmp_path):
    write_image(tmp_path / "o.png", synth["frames"][5])
    write_image(tmp_path / "f.png", synth["fake"][5])
    r = derive_image_masks(tmp_path / "o.png", tmp_path / "f.png", analyzer=face_analyzer)
    assert r.masks.shape == (1, 144, 192) and mask_iou(r.masks[0], synth["truth"][5]) >= 0.7
    write_image(tmp_path / "small.png", synth["fake"][5][:100])
    with pytest.raises(AlignmentError, match="differs"):
        derive_image_masks(tmp_path / "o.png", tmp_path / "small.png", analyzer=face_analyzer)


# ------------------------------------------------------------------ official FF++ masks (real data)
@pytest.mark.parametrize("method, original, target", [
    ("deepfakes", "original.png", 0.90),
    ("deepfakedetection", "original_actors.png", 0.85),
    ("neuraltextures", "original.png", 0.60),
])
def test_iou_against_official_ffpp_masks(shared_data, face_analyzer, method, original, target):
    f = shared_data / "ffpp_frames"
    r = derive_image_masks(f / original, f / f"{method}.png", analyzer=face_analyzer)
    official = read_image(f / f"{method}_mask.png")[:, :, 0] > 127
    assert mask_iou(r.masks[0], official) >= target


# ------------------------------------------------------------------ dataset runner + CLI
@pytest.fixture()
def tree(synth, tmp_path):
    """A small FF++ tree: one good pair, one missing original, one unreadable video,
    one temporally shifted pair."""
    import shutil

    root = tmp_path / "ffpp"
    vids = root / "original_sequences/youtube/c23/videos"
    fakes = root / "manipulated_sequences/Deepfakes/c23/videos"
    vids.mkdir(parents=True)
    fakes.mkdir(parents=True)
    d = synth["dir"]
    shutil.copy(d / "orig.mp4", vids / "000.mp4")
    shutil.copy(d / "orig.mp4", vids / "002.mp4")
    shutil.copy(d / "orig.mp4", vids / "003.mp4")
    shutil.copy(d / "fake.mp4", fakes / "000_001.mp4")
    shutil.copy(d / "fake.mp4", fakes / "001_000.mp4")  # original 001 missing
    (fakes / "002_000.mp4").write_bytes(b"\x00\x01 not a video" * 50)
    shutil.copy(d / "fake_shift.mp4", fakes / "003_000.mp4")
    from masks.maskio import write_mask_video

    write_mask_video(root / "manipulated_sequences/Deepfakes/masks/videos/000_001.mp4", synth["truth"], 29.97)
    return root


def test_dataset_runner_bad_members_manifest_and_resume(tree, tmp_path):
    from masks.dataset import derive_dataset, read_manifest

    out = tmp_path / "out"
    s = derive_dataset(tree, out, progress=False, sheet_frames=2)
    assert (s.total, s.ok, s.failed, s.skipped, s.exit_code) == (4, 1, 3, 0, 1)
    rows = read_manifest(out)
    good = rows["Deepfakes/c23/000_001"]
    assert good["status"] == "ok" and good["reason"] is None and good["n_frames"] == N
    assert good["mask"] == "manipulated_sequences/Deepfakes/c23/videos/000_001.mask.mp4"
    assert (out / good["mask"]).is_file() and (out / good["sheet"]).is_file()
    assert 0 < good["mean_area"] < 0.2 and good["alignment"]["offset"] == 0
    assert good["parameters"] == MaskParams().to_dict() and "numpy" in good["versions"]
    assert good["split"] is None and good["method"] == "Deepfakes" and good["compression"] == "c23"
    from masks.maskio import read_mask_video

    assert read_mask_video(out / good["mask"]).shape == (N, 144, 192)
    assert good["official_iou"] >= 0.7 and good["official_mask"].endswith("masks/videos/000_001.mp4")
    # a trainer finds exact masks through Pair.mask and derived ones through derived=
    by_key = {p.key: p for p in find_pairs(tree, derived=out)}
    assert by_key["Deepfakes/c23/000_001"].extra["derived_mask"] == out / good["mask"]
    assert "derived_mask" not in by_key["Deepfakes/c23/001_000"].extra
    reasons = {k: r["reason"] for k, r in rows.items() if r["status"] == "failed"}
    assert "original_sequences/youtube/c23/videos/001.mp4 is missing" in reasons["Deepfakes/c23/001_000"]
    assert "not a readable video" in reasons["Deepfakes/c23/002_000"] or "corrupt" in reasons["Deepfakes/c23/002_000"]
    assert "temporal offset" in reasons["Deepfakes/c23/003_000"]
    # failed members leave no outputs, and nothing partial is left anywhere
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in files if ".part" in p.name]
    assert sorted(p.name for p in files) == ["000_001.mask.mp4", "000_001.sheet.jpg", "manifest.jsonl"]
    # a re-run skips the finished pair and retries the failed ones
    mtime = (out / good["mask"]).stat().st_mtime_ns
    s2 = derive_dataset(tree, out, progress=False, sheet_frames=2)
    assert (s2.skipped, s2.ok, s2.failed) == (1, 0, 3)
    assert (out / good["mask"]).stat().st_mtime_ns == mtime
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 4


def test_dataset_shards_and_workers_cover_the_dataset(tree, tmp_path):
    from masks.dataset import derive_dataset, read_manifest

    out = tmp_path / "sharded"
    a = derive_dataset(tree, out, shard=(1, 2), progress=False, sheet_frames=0)
    b = derive_dataset(tree, out, shard="2/2", workers=2, progress=False, sheet_frames=0)
    assert a.total + b.total == 4 and a.total == 2
    assert a.manifest.name == "manifest.shard-1-of-2.jsonl" and b.manifest.name == "manifest.shard-2-of-2.jsonl"
    rows = read_manifest(out)
    assert len(rows) == 4 and sum(r["status"] == "ok" for r in rows.values()) == 1


def _cli(*argv):
    from localize.cli import main

    return main(list(map(str, argv)))


def test_cli_dataset_exit_codes(tree, tmp_path, capsys):
    assert _cli("masks", "dataset", tree, "--out", tmp_path / "o", "--no-progress", "--sheet-frames", "0") == 1
    err = capsys.readouterr().err
    assert "FAILED Deepfakes/c23/001_000" in err and "is missing" in err
    assert _cli("masks", "dataset", tree, "--out", tmp_path / "o", "--shard", "3/2") == 2
    assert "shard 3/2" in capsys.readouterr().err


def test_cli_derive_and_one_line_errors(synth, tmp_path, capsys):
    d = synth["dir"]
    assert _cli("masks", "derive", d / "orig.mp4", d / "fake.mp4", "--out", tmp_path / "one", "--soft") == 0
    assert (tmp_path / "one/fake.mask.mp4").is_file() and (tmp_path / "one/fake.soft.mp4").is_file()
    row = json.loads((tmp_path / "one/manifest.jsonl").read_text())
    assert row["status"] == "ok" and row["soft"] == "fake.soft.mp4"
    capsys.readouterr()
    for argv, message in [
        (("masks", "derive", tmp_path / "nope.mp4", d / "fake.mp4", "--out", tmp_path / "x"), "no such file"),
        (("masks", "derive", d / "orig.mp4", d / "fake_big.mp4", "--out", tmp_path / "x"), "frame size"),
        (("masks", "derive", d / "orig.mp4", d / "fake_shift.mp4", "--out", tmp_path / "x"), "temporal offset"),
        (("masks", "dataset", tmp_path, "--out", tmp_path / "x"), "unknown dataset layout"),
        (("masks", "derive", d / "orig.mp4", d / "fake.mp4", "--out", tmp_path / "x", "--param", "bogus=1"),
         "unknown mask parameters"),
    ]:
        assert _cli(*argv) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").rglob("*.mp4"))


def test_several_faces_only_the_forged_one_is_masked(synth, face_analyzer):
    """Two people in one frame, one forged, codec-like noise everywhere: the mask
    covers the forged face and nothing of the untouched one."""
    rng = np.random.default_rng(0)
    i = 12
    orig = np.concatenate([synth["frames"][i], synth["frames"][i + 10]], axis=1)
    fake = np.concatenate([synth["fake"][i], synth["frames"][i + 10]], axis=1)
    noisy = np.clip(fake.astype(np.int16) + rng.normal(0, 2.0, fake.shape).round().astype(np.int16), 0, 255)
    r = derive_image_masks(orig, noisy.astype(np.uint8), analyzer=face_analyzer)
    assert len(r.boxes[0]) == 2  # both faces found
    mask = r.masks[0]
    truth = np.concatenate([synth["truth"][i], np.zeros_like(synth["truth"][i])], axis=1)
    assert mask[:, synth["frames"][i].shape[1]:].sum() == 0
    assert mask_iou(mask, truth) >= 0.6
