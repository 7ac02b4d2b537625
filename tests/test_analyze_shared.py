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


def test_face_luma_reads_the_centre_of_the_box():
    from localize.faces import face_luma

    img = np.full((100, 100, 3), 200, np.uint8)
    img[30:70, 30:70] = 40  # a dark centre; the box's rim (hair, background) stays bright
    assert face_luma(img, (20, 20, 80, 80)) == pytest.approx(40.0)
    assert face_luma(img, (20, 20, 80, 80), inner=1.0) > 100
    assert face_luma(img, (150, 150, 190, 190)) is None  # outside the frame
