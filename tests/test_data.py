"""Training data: sources, identity splits, crop cache, sampling, augmentation."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from localize import data as D
from localize.targets import xray_target


def make_tiny_ffpp(root: Path, carphone: Path, analyzer, n_ids: int = 4, frames: int = 30) -> Path:
    """An FF++-layout tree from carphone: ``n_ids`` clips (odd ones mirrored) as
    originals, each with a 'Synth' fake whose inner face (an ellipse from the landmarks)
    is colour-shifted and blurred, its exact mask video and official-style splits."""
    import cv2

    from localize.video import read_frames, write_video
    from masks.maskio import write_mask_video

    allf = read_frames(carphone)
    orig_dir = root / "original_sequences" / "youtube" / "c23" / "videos"
    fake_dir = root / "manipulated_sequences" / "Synth" / "c23" / "videos"
    mask_dir = root / "manipulated_sequences" / "Synth" / "masks" / "videos"
    ids = [f"{i:03d}" for i in range(n_ids)]
    for k, ident in enumerate(ids):
        clip = allf[(k * frames) % len(allf):][:frames]
        if k % 2:
            clip = clip[:, :, ::-1]
        clip = np.ascontiguousarray(clip)
        write_video(orig_dir / f"{ident}.mp4", clip, 25, crf=18)
        fakes, masks = [], []
        lms = None
        for f in clip:
            faces = analyzer.detect(f)
            lms = faces[0].landmarks if faces else lms
            m = np.zeros(f.shape[:2], np.uint8)
            (cx, cy), r = lms[27:68].mean(0), np.ptp(lms[:, 0]) * 0.32
            cv2.ellipse(m, (int(cx), int(cy + r * 0.3)), (int(r), int(r * 1.25)), 0, 0, 360, 1, -1)
            alt = cv2.GaussianBlur(f, (7, 7), 2).astype(np.int16) + np.array([40, -25, 10], np.int16)
            fakes.append(np.where(m[..., None] > 0, np.clip(alt, 0, 255), f).astype(np.uint8))
            masks.append(m > 0)
        partner = ids[k + 1] if k % 2 == 0 else ids[k - 1]
        write_video(fake_dir / f"{ident}_{partner}.mp4", fakes, 25, crf=18)
        write_mask_video(mask_dir / f"{ident}_{partner}.mp4", masks, 25)
    (root / "splits").mkdir(parents=True, exist_ok=True)
    pairs = [[ids[i], ids[i + 1]] for i in range(0, n_ids, 2)]
    (root / "splits" / "train.json").write_text(json.dumps(pairs[: max(1, len(pairs) - 1)]))
    (root / "splits" / "val.json").write_text(json.dumps(pairs[max(1, len(pairs) - 1):]))
    (root / "splits" / "test.json").write_text("[]")
    return root


@pytest.fixture(scope="module")
def tiny_ffpp(tmp_path_factory, carphone, face_analyzer) -> Path:
    return make_tiny_ffpp(tmp_path_factory.mktemp("ffpp"), carphone, face_analyzer)


SMALL = D.CropParams(input_size=64, scale=1.3, frames_per_video=6)


@pytest.fixture(scope="module")
def tiny_sets(tiny_ffpp, tmp_path_factory):
    sources = D.collect_sources([{"path": str(tiny_ffpp), "kind": "pairs"}])
    cache = tmp_path_factory.mktemp("cache")
    return sources, D.build_cache(sources, SMALL, cache, progress=False), cache


def test_pair_sources_have_masks_identities_and_official_splits(tiny_ffpp):
    sources = D.collect_sources([{"path": str(tiny_ffpp), "kind": "pairs"}])
    fakes = [s for s in sources if s.label == 1]
    reals = [s for s in sources if s.label == 0]
    assert len(fakes) == 4 and len(reals) == 4
    assert all(s.mask is not None and s.mask.exists() and s.track_video is not None for s in fakes)
    splits = D.assign_splits(sources, val_fraction=0.5)
    assert splits == {"000": "train", "001": "train", "002": "val", "003": "val"}
    # held-out paths never come in
    kept = D.collect_sources([{"path": str(tiny_ffpp), "kind": "pairs"}], exclude=["*/000*", "*/002_003.mp4"])
    assert not any(s.video.name.startswith("000") or s.video.name == "002_003.mp4" for s in kept)
    assert len(kept) == 5


def test_splits_never_share_an_identity():
    srcs = [D.VideoSource(key=f"r/{i}-{k}", video=Path(f"/x/{i}-{k}.mp4"), label=0, identity=f"p{i}")
            for i in range(10) for k in range(3)]
    sp = D.assign_splits(srcs, val_fraction=0.3, seed=1)
    assert sorted(sp.values()).count("val") == 3 and set(sp) == {f"p{i}" for i in range(10)}
    assert D.assign_splits(srcs, 0.3, seed=1) == sp  # deterministic
    assert D.assign_splits(srcs[:6], 0.01) != {}  # two identities -> one of them validates
    assert list(D.assign_splits(srcs[:6], 0.01).values()).count("val") == 1
    clash = [D.VideoSource(key="a", video=Path("/a.mp4"), label=0, identity="p", split="train"),
             D.VideoSource(key="b", video=Path("/b.mp4"), label=1, identity="p", split="val", mask=Path("/m"))]
    with pytest.raises(D.InputError, match="both"):
        D.assign_splits(clash, 0.2)


def test_crop_cache_follows_the_crop_rule_and_is_reused(tiny_sets, face_analyzer):
    sources, sets, cache = tiny_sets
    assert len(sets) == 8 and len(list(cache.glob("*.npz"))) == 8
    for cs in sets:
        assert cs.images.shape == (len(cs.frames), 64, 64, 3) and cs.images.dtype == np.uint8
        assert 4 <= len(cs.frames) <= 6 and cs.landmarks.shape == (len(cs.frames), 68, 2)
        if cs.source.label == 1:
            area = (cs.masks > 127).mean((1, 2))
            assert area.min() > 0.05 and area.max() < 0.6  # the inner face, not the whole crop
        else:
            assert cs.masks.max() == 0
    # K evenly spaced frames
    from localize.video import sample_indices

    real = next(cs for cs in sets if cs.source.label == 0)
    assert set(real.frames) <= set(sample_indices(30, count=6))
    # identical to cropping by hand with the analysis rule
    from localize.faces import crop, crop_box, landmark_box
    from localize.video import read_frames

    i = int(real.frames[2])
    lms = D.face_landmarks(face_analyzer, real.source.video, [i])[i]
    frame = read_frames(real.source.video, [i])[0]
    ref = crop(frame, crop_box(landmark_box(lms), 1.3), 64)
    assert np.abs(ref.astype(int) - real.images[2].astype(int)).max() <= 1
    # a fake shares its original's boxes: outside the mask the crops match up to codec noise
    fake = next(cs for cs in sets if cs.source.label == 1 and cs.source.track_video == real.source.video)
    outside = fake.masks[2] == 0
    assert np.abs(fake.images[2].astype(int) - real.images[2].astype(int))[outside].mean() < 4
    # second build: cache hits, same pixels, no file rewritten
    mtimes = {p: p.stat().st_mtime_ns for p in cache.glob("*.npz")}
    again = D.build_cache(sources, SMALL, cache, progress=False)
    assert {p: p.stat().st_mtime_ns for p in cache.glob("*.npz")} == mtimes
    assert all(np.array_equal(a.images, b.images) for a, b in zip(sorted(sets, key=lambda c: c.source.key),
                                                                  sorted(again, key=lambda c: c.source.key)))
    # other crop parameters, other entries; the manifest hash changes too
    other = D.CropParams(input_size=64, scale=1.5, frames_per_video=6)
    assert D.entry_key(sources[0], other) != D.entry_key(sources[0], SMALL)
    assert D.manifest_hash(sources, other) != D.manifest_hash(sources, SMALL)


def test_cache_keys_follow_content_not_mtimes(tmp_path):
    """A re-provisioned or copied dataset (same bytes, new mtimes) keeps its crops and its
    manifest hash; a changed file gets new ones."""
    import os
    import shutil

    from localize.media import carphone_path

    v = tmp_path / "a.mp4"
    shutil.copy(carphone_path(), v)
    src = D.VideoSource(key="x/a", video=v, label=0, identity="a")
    key, mh = D.entry_key(src, SMALL), D.manifest_hash([src], SMALL)
    os.utime(v, ns=(1, 1))
    assert D.entry_key(src, SMALL) == key and D.manifest_hash([src], SMALL) == mh
    data = bytearray(v.read_bytes())
    data[-10] ^= 0xFF  # a change near the end, where a truncated or re-muxed file differs
    v.write_bytes(bytes(data))
    assert D.entry_key(src, SMALL) != key and D.manifest_hash([src], SMALL) != mh


def test_manifest_sources(tiny_ffpp, tmp_path):
    rows = []
    for fake in sorted((tiny_ffpp / "manipulated_sequences/Synth/c23/videos").glob("*.mp4")):
        tgt = fake.stem.split("_")[0]
        rows.append({"status": "ok", "original": str(tiny_ffpp / f"original_sequences/youtube/c23/videos/{tgt}.mp4"),
                     "manipulated": str(fake), "mask": f"masks/{fake.name}", "split": "train", "target": tgt})
    rows.append({"status": "failed", "original": "x", "manipulated": "y", "mask": "z"})
    m = tmp_path / "manifest.jsonl"
    m.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    srcs = D.collect_sources([{"path": str(m)}])
    assert sum(s.label for s in srcs) == 4 and len(srcs) == 8
    assert all(s.mask == tmp_path / "masks" / s.video.name for s in srcs if s.label)
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(D.InputError, match="line 1"):
        D.collect_sources([{"path": str(tmp_path / "bad.jsonl")}])


def test_photos_are_one_frame_real_sources_when_asked(carphone, tmp_path):
    import shutil

    from localize.media import astronaut_image
    from localize.video import write_image

    person = tmp_path / "people" / "eileen_collins"
    person.mkdir(parents=True)
    shutil.copy(carphone, person / "video_1.mp4")
    write_image(person / "photo_1.png", astronaut_image())
    spec = {"path": str(tmp_path / "people"), "kind": "reals", "identity": "folder", "split": "val"}
    assert [s.key for s in D.collect_sources([spec])] == ["people/eileen_collins/video_1"]  # videos only by default
    srcs = D.collect_sources([spec | {"photos": True}])
    assert [s.key for s in srcs] == ["people/eileen_collins/photo_1", "people/eileen_collins/video_1"]
    assert {s.identity for s in srcs} == {"eileen_collins"} and {s.split for s in srcs} == {"val"}
    sets = D.build_cache(srcs[:1], SMALL, tmp_path / "cache", progress=False)
    assert len(sets) == 1 and sets[0].images.shape == (1, 64, 64, 3) and not sets[0].masks.any()
    assert list(sets[0].frames) == [0]


def test_balanced_plan_self_blends_and_rank_sharding(tiny_sets):
    _, sets, _ = tiny_sets
    spec = D.SampleSpec(length=400, selfblend=0.5)
    ds = D.CropDataset(sets, spec, train=True, seed=3)
    kinds = np.array([k for k, _, _ in ds.plan])
    assert (kinds == D.REAL).sum() == 200 and (kinds == D.BLEND).sum() == 100 and (kinds == D.FAKE).sum() == 100
    plan0 = list(ds.plan)
    ds.set_epoch(1)
    assert ds.plan != plan0
    ds.set_epoch(0)
    assert ds.plan == plan0  # seeded: every rank draws the same plan
    # indices from the sampler carry the epoch, so a worker process rebuilds the same plan
    s = D.EpochSampler(ds, num_replicas=2, rank=0, seed=3)
    s.set_epoch(1)
    idx = list(s)
    assert all(400 <= i < 800 for i in idx) and len(idx) == 200
    other = D.EpochSampler(ds, num_replicas=2, rank=1, seed=3)
    other.set_epoch(1)
    assert not set(idx) & set(other)
    fresh = D.CropDataset(sets, spec, train=True, seed=3)
    x, y, lab = fresh[idx[0]]
    ds.set_epoch(1)
    assert fresh.epoch == 1 and fresh.plan == ds.plan
    assert x.shape == (3, 64, 64) and y.shape == (1, 64, 64) and float(lab) in (0.0, 1.0)
    # self-blended samples: a forged region inside the face, label 1; reals: empty mask
    for i, (k, _, _) in enumerate(ds.plan[:60]):
        img, mask, kind = ds.sample(400 + i)
        assert kind == k
        if k == D.BLEND:
            assert 0.03 < mask.mean() < 0.7
        if k == D.REAL:
            assert mask.max() == 0
    val = D.CropDataset(sets, D.SampleSpec(selfblend=0.5), train=False)
    n_real = sum(len(c.frames) for c in sets if c.source.label == 0)
    assert len(val) == 2 * n_real + sum(len(c.frames) for c in sets if c.source.label == 1)
    a, b = val.sample(len(val) - 1), val.sample(len(val) - 1)
    assert np.array_equal(a[0], b[0])  # validation self-blends are fixed


def test_seeded_augmentation_repeats_per_sample_and_unseeded_does_not(tiny_sets):
    """seed_augment: a crop's augmentation comes from (seed, epoch, index), the same in a fresh
    dataset (another worker, a resumed run) and different for another index or epoch."""
    _, sets, _ = tiny_sets
    spec = D.SampleSpec(length=40, selfblend=0.5)

    def pixels(ds, i, epoch=0):  # indices carry the epoch, as EpochSampler's do
        return ds[epoch * len(ds.plan) + i][0].numpy()

    a, b = (D.CropDataset(sets, spec, train=True, seed=3) for _ in range(2))
    assert all(np.array_equal(pixels(a, i), pixels(b, i)) for i in range(12))
    assert sum(not np.array_equal(pixels(a, i), pixels(a, i, 1)) for i in range(12)) >= 10
    plain = D.CropDataset(sets, spec, train=True, seed=3, augment=0.0)
    changed = [not np.array_equal(pixels(a, i), pixels(plain, i)) for i in range(12)]
    assert sum(changed) >= 8  # the augmentation is applied, not seeded away
    u, v = (D.CropDataset(sets, spec, train=True, seed=3, seed_augment=False) for _ in range(2))
    assert sum(not np.array_equal(pixels(u, i), pixels(v, i)) for i in range(12)) >= 6
    base = D.mean_fake_mask(sets, spec)
    assert base.shape == (64, 64) and 0.05 < (base >= 0.5).mean() < 0.6


def test_paired_plan_keeps_each_fake_next_to_its_own_real_frame(tiny_sets):
    _, sets, _ = tiny_sets
    ds = D.CropDataset(sets, D.SampleSpec(length=200, selfblend=0.5, paired=True), train=True, seed=1)
    assert ds.partner, "manipulated crops must find their original's crop"
    kinds = [k for k, _, _ in ds.plan]
    assert len(ds.plan) == 200 and kinds[0::2] == [D.REAL] * 100
    n_blend = 0
    for (k0, s0, j0), (k1, s1, j1) in zip(ds.plan[0::2], ds.plan[1::2]):
        if k1 == D.BLEND:
            n_blend += 1
            assert (s0, j0) == (s1, j1)
        else:
            assert k1 == D.FAKE and ds.partner[(s1, j1)] == (s0, j0)
            assert sets[s0].frames[j0] == sets[s1].frames[j1]
            assert str(sets[s1].source.track_video) == str(sets[s0].source.video)
    assert n_blend == 50
    # the sampler shuffles and shards whole pairs: every even position starts a pair
    for rank in (0, 1):
        s = D.EpochSampler(ds, num_replicas=2, rank=rank, seed=1)
        s.set_epoch(2)
        idx = [i - 2 * 200 for i in s]
        assert len(idx) == len(s) == 100
        assert all(a % 2 == 0 and b == a + 1 for a, b in zip(idx[0::2], idx[1::2]))


def test_xray_target_marks_the_blending_boundary_only(tiny_sets):
    m = np.zeros((100, 100), np.float32)
    m[30:70, 30:70] = 1
    b = xray_target(m)
    assert b.shape == m.shape and b.dtype == np.float32 and 0 <= b.min() and b.max() <= 1
    assert b[50, 50] < 0.01 and b[5, 5] < 0.01 and b[50, 30] > 0.9  # inside, outside, on the edge
    np.testing.assert_allclose(xray_target(m * 255), b)  # 0..255 masks as stored in the cache
    assert not xray_target(np.zeros((64, 64), np.float32)).any()  # a real crop stays all zero
    # the datasets hand out the band for fakes and self-blends, zeros for reals
    _, sets, _ = tiny_sets
    bands = 0
    for train in (True, False):
        ds = D.CropDataset(sets, D.SampleSpec(length=40, selfblend=0.5, target="xray"), train=train, seed=0,
                           augment=0.0)
        for i in range(len(ds)):
            x, y, lab = ds[i]
            if float(lab) == 0:
                assert not y.any()
            elif y.any():
                region = ds.sample(i)[1] >= 0.5
                assert float((y[0].numpy() >= 0.5).mean()) < float(region.mean())  # a band, not the region
                bands += 1
    assert bands > 10  # the fake branch above really ran
    base = D.mean_fake_mask(sets, D.SampleSpec(selfblend=0.5, target="xray"), seed=0)
    assert (base >= 0.5).mean() < (D.mean_fake_mask(sets, D.SampleSpec(selfblend=0.5), seed=0) >= 0.5).mean()


def _real_crop(carphone, face_analyzer):
    from localize.faces import crop, crop_box, landmark_box
    from localize.video import read_frames

    f = read_frames(carphone, [10])[0]
    lms = face_analyzer.detect(f)[0].landmarks
    return crop(f, crop_box(landmark_box(lms), 1.3), 128)


def test_each_augmentation_changes_pixels(carphone, face_analyzer):
    """albumentations 2.x ignores 1.x argument names with only a warning: construct
    with warnings as errors, and check every transform really alters the crop."""
    img = _real_crop(carphone, face_analyzer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        transforms = D.each_transform()
        D.train_transform(1.0)
        D.train_transform(1.0, defocus=0.5, low_light=0.5)
    assert set(transforms) == {"HorizontalFlip", "ColorJitter", "GaussianBlur", "Defocus", "LowLight", "Downscale",
                               "GaussNoise", "ImageCompression"}
    for name, t in transforms.items():
        t.set_random_seed(0)
        changed = [np.abs(t(image=img)["image"].astype(int) - img.astype(int)).mean() for _ in range(3)]
        assert min(changed) > 0.2, f"{name} did not change the pixels ({changed})"
    # JPEG quality really spans 30..100: the low end is much worse than the high end
    from albumentations import ImageCompression

    lo = ImageCompression(quality_range=(30, 30), p=1)(image=img)["image"]
    hi = ImageCompression(quality_range=(100, 100), p=1)(image=img)["image"]
    assert np.abs(lo.astype(int) - img).mean() > 2 * np.abs(hi.astype(int) - img).mean()
    # defocus blurs much more than the usual blur (it is what real bystanders out of focus look like)
    sharp = lambda x: cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
    assert sharp(transforms["Defocus"](image=img)["image"]) < 0.5 * sharp(transforms["GaussianBlur"](image=img)["image"])
    # low light darkens a face far beyond the colour jitter's 20 % (the luma of dim real faces, 35-85)
    from localize.faces import face_luma

    box = (0, 0, img.shape[1], img.shape[0])
    dark = [face_luma(transforms["LowLight"](image=img)["image"], box) / face_luma(img, box) for _ in range(5)]
    assert max(dark) < 0.75, dark
    # off, it is not in the pipeline at all (an idle transform would shift the random stream of older configs)
    assert len(D.train_transform(1.0).transforms) == len(D.train_transform(1.0, low_light=0.3).transforms) - 1
    # the geometric part moves image and mask together
    full = D.train_transform(1.0)
    full.set_random_seed(1)
    m = np.zeros(img.shape[:2], np.float32)
    m[40:80, 30:70] = 1
    flipped = [full(image=img, mask=m) for _ in range(8)]
    assert any(not np.array_equal(r["mask"], m) for r in flipped)
    assert all(r["mask"].shape == m.shape and r["image"].shape == img.shape for r in flipped)


def test_two_compressions_of_one_tree_keep_their_originals_apart(tiny_ffpp, tmp_path):
    """An FF++ copy with c23 and c40 holds two originals named 000.mp4: both are real sources
    (the c40 one is the hard negative), each with its own key; one compression keys as before."""
    import shutil

    tree = tmp_path / "ff"
    shutil.copytree(tiny_ffpp, tree)
    for sub in ("original_sequences/youtube", "manipulated_sequences/Synth"):
        shutil.copytree(tree / sub / "c23", tree / sub / "c40")
    one = D.collect_sources([{"path": str(tree), "kind": "pairs", "compressions": ["c23"], "name": "ff"}])
    assert {s.key for s in one if not s.label} == {f"ff/original/{i:03d}" for i in range(4)}
    both = D.collect_sources([{"path": str(tree), "kind": "pairs", "compressions": ["c23", "c40"], "name": "ff"}])
    originals = {s.key: s for s in both if not s.label}
    assert len(both) == 2 * len(one) and len({s.key for s in both}) == len(both)
    assert originals["ff/original/c40/000"].video == tree / "original_sequences/youtube/c40/videos/000.mp4"
    assert originals["ff/original/c40/000"].identity == originals["ff/original/c23/000"].identity
    # a masks/ manifest with both compressions alike (rows keyed as masks/ writes them)
    rows = [{"key": s.key.split("/", 1)[1], "original": str(s.track_video), "manipulated": str(s.video), "mask": str(s.mask),
             "compression": s.video.parts[-3], "target": s.identity} for s in both if s.label]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    srcs = D.collect_sources([{"path": str(tmp_path / "m.jsonl"), "name": "m"}])
    assert len({s.key for s in srcs}) == len(srcs) == len(both)
    assert "m/original/c40/000" in {s.key for s in srcs}


def test_other_faces_of_a_real_video_become_real_crops(carphone, tmp_path, monkeypatch):
    """data.other_faces: a real video showing two people gives its main face as before and the
    other face as a second real source (``#others``); a video of one person gives no second set,
    and remembers that, so a second build tracks nothing."""
    import cv2

    from localize.video import read_frames, write_video

    frames = read_frames(carphone)[:20]
    two = []
    for f in frames:
        big = cv2.resize(f, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
        small = cv2.resize(f[:, ::-1], None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
        right = np.zeros((big.shape[0], small.shape[1], 3), np.uint8)
        right[:small.shape[0]] = small
        two.append(np.ascontiguousarray(np.concatenate([big, right], axis=1)))
    write_video(tmp_path / "reals" / "two.mp4", two, 25, crf=18)
    write_video(tmp_path / "reals" / "one.mp4", [np.ascontiguousarray(cv2.resize(f, None, fx=2.0, fy=2.0))
                                                 for f in frames], 25, crf=18)
    sources = D.collect_sources([{"path": str(tmp_path / "reals"), "kind": "reals"}])
    both = D.with_other_faces(sources)
    assert [s.key for s in both] == [sources[0].key, sources[0].key + "#others", sources[1].key,
                                     sources[1].key + "#others"]
    assert all(s.identity == o.identity and s.video == o.video for s, o in zip(both[::2], both[1::2]))
    main, others = both[2], both[3]  # two.mp4 sorts after one.mp4
    assert main.video.name == "two.mp4" and others.face == "others"
    assert "face" not in main.describe() and others.describe()["face"] == "others"  # old keys hold
    assert D.entry_key(main, SMALL) != D.entry_key(others, SMALL)
    fake = D.VideoSource(key="f", video=main.video, label=1, identity="x", mask=main.video)
    assert D.with_other_faces([fake]) == [fake]  # a fake's other faces are not its label

    cache = tmp_path / "cache"
    sets = {cs.source.key: cs for cs in D.build_cache(both, SMALL, cache, progress=False)}
    assert set(sets) == {s.key for s in both} - {both[1].key}  # one.mp4 shows one person
    m, o = sets[main.key], sets[others.key]
    assert len(m.frames) >= 4 and sorted(o.frames) == sorted(m.frames)  # one other face in every frame
    assert o.masks.max() == 0 and o.landmarks.shape == (len(o.frames), 68, 2)
    lms = D.all_face_landmarks(__import__("localize.faces", fromlist=["FaceAnalyzer"]).FaceAnalyzer(),
                               main.video, [int(m.frames[0])])[int(m.frames[0])]
    assert len(lms) == 2 and lms[0][:, 0].mean() < 352 <= lms[1][:, 0].mean()  # main: the large left face
    assert np.abs(m.images[0].astype(int) - o.images[0].astype(int)).mean() > 5
    # the empty result is cached: nothing is tracked again
    monkeypatch.setattr(D, "all_face_landmarks", lambda *a, **k: pytest.fail("tracked again"))
    again = D.build_cache(both, SMALL, cache, progress=False)
    assert sorted(cs.source.key for cs in again) == sorted(sets)
    # through a training config: the other faces join the crop sets and the manifest hash
    from localize import training as T

    cfg = T.load_config(None)
    cfg["model"]["input_size"] = 64
    cfg["data"].update(sources=[{"path": str(tmp_path / "reals"), "kind": "reals"}], frames_per_video=6,
                       cache_dir=str(cache), val_fraction=0.0)
    monkeypatch.undo()
    plain_sets, _, plain_hash, _ = T.crop_sets(cfg, progress=False)
    cfg["data"]["other_faces"] = True
    sets2, _, hash2, keys2 = T.crop_sets(cfg, progress=False)
    assert hash2 != plain_hash and others.key in keys2 and len(sets2) == len(plain_sets) + 1
    summary = D.summarize_sets(sets2)
    assert summary["videos"] == 2 and summary["videos_with_other_faces"] == 1
    # validation: the other faces are one more track of their video, not a video of their own
    ds = D.CropDataset(sets2, D.SampleSpec(selfblend=0.0), train=False)
    got = {(ds.video_of(i), ds.track_of(i)) for i in range(len(ds))}
    assert got == {(sources[0].key, "main"), (main.key, "main"), (main.key, "others")}
