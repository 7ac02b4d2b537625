"""ONNX export: checker, opset, dynamic axes, sigmoid inside, metadata round trip
through load_localizer, parity with torch on real face crops, int8, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from localize import decision as D
from localize.errors import InputError
from localize.export import config_hash, export_onnx, face_crops, quantize_int8
from localize.model import load_localizer

TRAIN_CONFIG = {"model": {"encoder": "mobilenet_v2"}, "train": {"lr": 0.001}}


def _ckpt(path: Path, aux: bool = True) -> Path:
    import torch

    from localize.model import ModelConfig, build_model, save_checkpoint

    torch.manual_seed(1)
    cfg = ModelConfig(encoder="mobilenet_v2", input_size=64, aux_head=aux, decoder_channels=(32, 16, 16, 8, 8))
    model = build_model(cfg)
    with torch.no_grad():  # non-trivial outputs: spread the final bias so probabilities are not all ~0.5
        model.segmentation_head[0].bias.fill_(0.3)
    cal = D.fit_calibration([0.0, 0.02, 0.05, 0.4, 0.6], [0, 0, 0, 1, 1]).to_dict()
    save_checkpoint(path, model, cfg, model_id="export-test", calibration=cal, config=TRAIN_CONFIG,
                    data_manifest_hash="abc123")
    return path


def test_output_target_travels_with_the_export(tmp_path):
    import torch

    from localize.model import ModelConfig, build_model, save_checkpoint

    cfg = ModelConfig(encoder="mobilenet_v2", input_size=64, decoder_channels=(32, 16, 16, 8, 8))
    torch.manual_seed(0)
    pt = tmp_path / "xray.pt"
    save_checkpoint(pt, build_model(cfg), cfg, model_id="x", config={"data": {"target": "xray"}})
    assert load_localizer(pt).target == "xray"
    loc = load_localizer(export_onnx(pt, tmp_path / "xray.onnx"))
    assert loc.target == "xray" and "blending-boundary" in loc.meta["outputs"]["mask"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("exp")
    pt = _ckpt(d / "m.pt")
    onnx_path = export_onnx(pt, d / "m.onnx")
    return pt, onnx_path


@pytest.fixture(scope="module")
def crops(carphone):
    c = face_crops([carphone], 64, per_video=6)
    assert len(c) >= 5
    return c


def test_checker_opset_dynamic_axes(exported):
    import onnx

    _, path = exported
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    assert max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) >= 17
    dims = m.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims] == ["batch", "", "height", "width"] and dims[1].dim_value == 3
    assert [o.name for o in m.graph.output] == ["mask", "frame"]
    assert any(n.op_type == "Sigmoid" for n in m.graph.node)


def test_metadata_round_trip(exported):
    pt, path = exported
    onnx_loc, pt_loc = load_localizer(path), load_localizer(pt)
    assert onnx_loc.backend == "onnx" and onnx_loc.has_frame_head
    assert onnx_loc.model_id == pt_loc.model_id == "export-test"
    assert onnx_loc.input_size == 64
    assert onnx_loc.calibration == json.loads(json.dumps(pt_loc.calibration))
    cal = D.Calibration.from_dict(onnx_loc.calibration)
    assert onnx_loc.meta["threshold"] == cal.threshold
    assert onnx_loc.meta["training_config_hash"] == config_hash(TRAIN_CONFIG)
    assert onnx_loc.meta["source_checkpoint_sha256"] == pt_loc.sha256
    assert onnx_loc.meta["data_manifest_hash"] == "abc123"
    n = onnx_loc.meta["normalization"]
    assert n["mean"] == [0.485, 0.456, 0.406] and n["layout"] == "NCHW"


def test_parity_on_real_face_crops(exported, crops):
    pt, path = exported
    m_t, f_t = load_localizer(pt).predict(crops, batch_size=4)
    m_o, f_o = load_localizer(path).predict(crops, batch_size=5)  # another batch size: dynamic batch
    assert m_t.shape == m_o.shape == (len(crops), 64, 64)
    assert 0 <= m_o.min() and m_o.max() <= 1 and m_o.std() > 1e-4  # probabilities, not logits; not constant
    assert np.abs(m_t - m_o).max() <= 1e-4
    assert np.abs(f_t - f_o).max() <= 1e-4


def test_dynamic_height_width(exported, crops):
    import onnxruntime as ort

    from localize.model import normalize

    _, path = exported
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    import cv2

    big = np.stack([cv2.resize(c, (96, 128)) for c in crops[:2]])
    mask, frame = sess.run(None, {"input": normalize(big)})
    assert mask.shape == (2, 1, 128, 96) and frame.shape == (2, 1)


def test_no_aux_head_has_one_output(tmp_path):
    path = export_onnx(_ckpt(tmp_path / "n.pt", aux=False), tmp_path / "n.onnx")
    loc = load_localizer(path)
    assert not loc.has_frame_head
    m, f = loc.predict(np.zeros((2, 64, 64, 3), np.uint8))
    assert m.shape == (2, 64, 64) and f is None


def test_missing_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        export_onnx(tmp_path / "nope.pt", tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_cli_and_cached_onnx_backend(exported, tmp_path, monkeypatch, capsys):
    from localize.analyze import open_localizer
    from localize.cli import main

    pt, _ = exported
    out = tmp_path / "cli.onnx"
    assert main(["export", str(pt), "--out", str(out)]) == 0
    assert "export-test" in capsys.readouterr().out and load_localizer(out).model_id == "export-test"
    monkeypatch.setenv("LOCALIZE_CACHE", str(tmp_path / "cache"))
    loc = open_localizer(pt, "onnx")
    assert loc.backend == "onnx" and loc.path == str(pt) and loc.sha256 == load_localizer(pt).sha256
    assert len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 1


def test_int8_quantization_keeps_metadata(exported, crops, tmp_path):
    _, path = exported
    q = quantize_int8(path, tmp_path / "q.onnx", crops)
    loc = load_localizer(q)
    assert loc.meta["quantization"].startswith("int8") and loc.model_id == "export-test"
    m, f = loc.predict(crops[:2])
    m_ref, _ = load_localizer(path).predict(crops[:2])
    assert m.shape == m_ref.shape and np.abs(m - m_ref).mean() < 0.1
