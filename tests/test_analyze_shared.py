"""Whether real faces' scores follow their darkness (localize.evaluate.luma, used by
benchmarks/analyze_shared.py): the rank correlation and its interval on made-up scores."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("analyze_shared", ROOT / "benchmarks" / "analyze_shared.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


def _rows(scores, lumas):
    return {f"v{i}": {"score": s, "deciding_face": {"luma": l}} for i, (s, l) in enumerate(zip(scores, lumas))}


def test_darker_faces_scoring_higher_show_as_a_negative_rho(bench):
    luma = np.linspace(30, 220, 30)
    a = bench.luma_association(_rows(0.5 - luma / 1000, luma))  # darker -> higher score
    assert a["n"] == 30 and a["spearman_rho"] == -1.0 and a["ci95"][1] < -0.9
    assert a["darkest_third_median"] > a["brightest_third_median"]
    assert [d[0] for d in a["darkest"]] == sorted(d[0] for d in a["darkest"]) and a["darkest"][0][0] == 30.0


def test_no_association_and_too_few_inputs(bench):
    rng = np.random.default_rng(1)
    a = bench.luma_association(_rows(rng.uniform(0, 1, 200), rng.uniform(0, 255, 200)))
    assert abs(a["spearman_rho"]) < 0.2 and a["ci95"][0] < 0 < a["ci95"][1]
    rows = _rows([0.1, 0.2, 0.3], [10, 20, 30]) | {"x": {"score": None}, "y": {"score": 0.5, "deciding_face": None}}
    assert bench.luma_association(rows)["spearman_rho"] is None  # 3 usable inputs: nothing to say


def test_face_chroma_is_zero_for_gray_and_reads_the_centre():
    from localize.faces import face_chroma

    img = np.zeros((100, 100, 3), np.uint8)
    img[...] = (200, 120, 90)  # skin-like colour: max - min = 110
    img[30:70, 30:70] = 128  # a gray centre
    assert face_chroma(img, (20, 20, 80, 80)) == pytest.approx(0.0)
    assert face_chroma(img, (0, 0, 100, 100), inner=1.0) == pytest.approx(110 * (1 - 0.16))
    assert face_chroma(img, (150, 150, 190, 190)) is None  # outside the frame


def test_face_luma_reads_the_centre_of_the_box():
    from localize.faces import face_luma

    img = np.full((100, 100, 3), 200, np.uint8)
    img[30:70, 30:70] = 40  # a dark centre; the box's rim (hair, background) stays bright
    assert face_luma(img, (20, 20, 80, 80)) == pytest.approx(40.0)
    assert face_luma(img, (20, 20, 80, 80), inner=1.0) > 100
    assert face_luma(img, (150, 150, 190, 190)) is None  # outside the frame


def test_inputs_the_model_saw_are_told_apart(bench):
    """The shipped model scores the brightly lit videos it trained on near 0: mixed with the
    inputs it never saw, they alone made darker faces look like higher scores."""
    seen = bench.SHIPPED_MODEL_SEEN
    assert bench.is_seen("reals/talking_03.mp4", seen) and bench.is_seen("people/joe_biden/photo_1.jpg", seen)
    assert not bench.is_seen("reals/talking_09.mp4", seen) and not bench.is_seen("reals/talking_10.mp4", seen)
    assert not bench.is_seen("people/elon_musk/photo_1.jpg", seen)
    assert not bench.is_seen("extra/pliers_obama_speech.mp4", seen) and not bench.is_seen("x", [])


@pytest.fixture(scope="module")
def probe():
    sys.path.insert(0, str(ROOT / "benchmarks"))  # exposure_probe imports analyze_shared by name
    spec = importlib.util.spec_from_file_location("exposure_probe", ROOT / "benchmarks" / "exposure_probe.py")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
        sys.modules.pop("analyze_shared", None)


def test_tone_curves_change_exposure_and_nothing_else(probe):
    crops = np.tile(np.arange(0, 256, 16, dtype=np.uint8)[None, None, :, None], (2, 16, 1, 3))  # (2, 16, 16, 3)
    dark, bright = probe.tone(crops, 2.0), probe.tone(crops, 0.5)
    assert dark.dtype == np.uint8 and dark.shape == crops.shape
    assert (dark <= crops).all() and (bright >= crops).all() and dark[0, 0, 8, 0] == 64  # 128 -> 64
    assert (probe.tone(crops, 1.0) == crops).all()

    class Inner:
        input_size, meta = 16, {"x": 1}

        def predict(self, crops, batch_size=16):
            self.seen = crops
            return crops, None

    inner = Inner()
    wrapped = probe.ToneCurve(inner, 2.0)
    assert wrapped.input_size == 16 and wrapped.meta == {"x": 1}  # all else delegates
    wrapped.predict(crops)
    assert (inner.seen == dark).all()
    # the per-crop correction brings a dim face and a bright one to about the same centre luma
    dim, lit = np.full((1, 40, 40, 3), 50, np.uint8), np.full((1, 40, 40, 3), 180, np.uint8)
    for c in (dim, lit):
        assert abs(probe.centre_luma(probe.normalized(c)[0]) - probe.NORM_TARGET) < 3
    glare = np.full((1, 40, 40, 3), 220, np.uint8)  # would need gamma 4: held at the bound, 3
    assert probe.centre_luma(probe.normalized(glare)[0]) == probe.centre_luma(probe.tone(glare, 3.0)[0])


def test_probe_summaries_split_unseen_inputs_and_keep_pairs(probe):
    def row(label, luma, **scores):
        return {"label": label, "luma": luma, **{c: {"score": s, "decision": "fake" if s > 0.5 else "real"}
                                                 for c, s in scores.items()}}

    rows = {f"reals/talking_0{i}.mp4": row(0, 50 + 20 * i, as_is=0.1, darker=0.3, brighter=0.1, exposure_norm=0.1)
            for i in range(1, 7)}  # seen by the shipped model
    rows |= {f"extra/clip{i}.mp4": row(0, 50 + 20 * i, as_is=0.4, darker=0.4 + 0.01 * i, brighter=0.6,
                                       exposure_norm=0.4) for i in range(6)}
    rows |= {"orig.mp4": row(0, 100, as_is=0.2, darker=0.2, brighter=0.6, exposure_norm=0.2),
             "fake.mp4": row(1, 100, as_is=0.7, darker=0.5, brighter=0.5, exposure_norm=0.7)}
    out = probe.summaries(rows, [["orig.mp4", "fake.mp4"]], ["reals/talking_0[1-8].mp4"])
    assert out["reals"]["n"] == 13 and out["unseen_reals"]["n"] == 7
    assert out["reals"]["darker"]["median_change"] == pytest.approx(0.05)  # the seen ones pull it up
    assert out["unseen_reals"]["darker"]["median_change"] == pytest.approx(0.02)
    assert out["unseen_reals"]["brighter"]["called_fake"] == sorted([*(f"extra/clip{i}.mp4" for i in range(6)),
                                                                    "orig.mp4"])
    assert out["pairs"]["as_is"][0]["ordered"] and not out["pairs"]["brighter"][0]["ordered"]
    assert out["fakes"]["darker"]["median_change"] == pytest.approx(-0.2)
