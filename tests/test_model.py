"""Model factory options: a shallow encoder (``encoder_depth`` < 5) keeps only the stages
it uses, trains every parameter, round-trips through a checkpoint and exports to ONNX."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from localize.model import ModelConfig, build_model, load_checkpoint, load_localizer, save_checkpoint


@pytest.mark.parametrize("encoder", ["mobilenet_v2", "resnet18"])
def test_shallow_encoder_has_no_dead_weights(encoder):
    import torch

    deep = build_model(ModelConfig(encoder=encoder, input_size=64, decoder_channels=(32, 16, 16, 8, 8)))
    model = build_model(ModelConfig(encoder=encoder, input_size=64, encoder_depth=3, decoder_channels=(32, 16, 8)))
    n = sum(p.numel() for p in model.parameters())
    assert n < sum(p.numel() for p in deep.encoder.parameters()) / 4  # the deep stages are gone
    mask, frame = model(torch.randn(2, 3, 64, 64))
    assert mask.shape == (2, 1, 64, 64) and frame.shape == (2, 1)
    (mask.mean() + frame.mean()).backward()
    # DDP fails on parameters that never receive a gradient
    assert [k for k, p in model.named_parameters() if p.grad is None] == []


def test_decoder_channels_must_match_depth():
    with pytest.raises(ValueError, match="decoder_channels needs 3 entries"):
        build_model(ModelConfig(encoder="mobilenet_v2", encoder_depth=3, decoder_channels=(32, 16, 8, 8, 4)))


def test_shallow_checkpoint_round_trip_and_onnx_parity(tmp_path):
    import torch

    from localize.export import export_onnx

    torch.manual_seed(0)
    cfg = ModelConfig(encoder="mobilenet_v2", input_size=64, encoder_depth=3, decoder_channels=(32, 16, 8))
    save_checkpoint(tmp_path / "m.pt", build_model(cfg), cfg, model_id="shallow")
    model, cfg2, _ = load_checkpoint(tmp_path / "m.pt")
    assert cfg2 == cfg
    # checkpoints written before the option existed load as depth 5
    assert ModelConfig.from_dict({"encoder": "mobilenet_v2"}).encoder_depth == 5
    onnx_path = export_onnx(tmp_path / "m.pt", tmp_path / "m.onnx")
    crops = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    m_t, f_t = load_localizer(tmp_path / "m.pt").predict(crops)
    m_o, f_o = load_localizer(onnx_path).predict(crops)
    np.testing.assert_allclose(m_t, m_o, atol=1e-4)
    np.testing.assert_allclose(f_t, f_o, atol=1e-4)


def test_seed_ensemble_averages_member_logits():
    import torch

    one = ModelConfig(encoder="mobilenet_v2", input_size=64, encoder_depth=3, decoder_channels=(32, 16, 8))
    ens = build_model(ModelConfig(**{**one.__dict__, "members": 3})).eval()
    assert sum(p.numel() for p in ens.parameters()) == 3 * sum(p.numel() for p in build_model(one).parameters())
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        outs = [m(x) for m in ens.members]
        mask, frame = ens(x)
    torch.testing.assert_close(mask, sum(o[0] for o in outs) / 3)
    torch.testing.assert_close(frame, sum(o[1] for o in outs) / 3)
    with pytest.raises(ValueError, match="members must be >= 1"):
        build_model(ModelConfig(**{**one.__dict__, "members": 0}))



def test_member_subset_is_the_ensemble_of_those_members(tmp_path):
    """A cross-fit ensemble's fold is scored by that fold's runs alone (out of fold)."""
    import torch

    from localize.ensemble import member_subset

    one = ModelConfig(encoder="mobilenet_v2", input_size=64, encoder_depth=3, decoder_channels=(16, 8, 8))
    cfg = ModelConfig(**{**one.__dict__, "members": 3})
    ens = build_model(cfg).eval()
    save_checkpoint(tmp_path / "e.pt", ens, cfg, model_id="e", cross_fit={"folds": 3},
                    ensemble_of=[{"fold": j} for j in range(3)])
    payload = torch.load(tmp_path / "e.pt", weights_only=False)
    x = torch.randn(1, 3, 64, 64)
    for keep in ([2, 0], [1]):
        torch.save(member_subset(payload, keep, model_id_suffix="-sub"), tmp_path / "s.pt")
        sub, scfg, meta = load_checkpoint(tmp_path / "s.pt")
        assert scfg.members == len(keep) and meta["model_id"] == "e-sub" and "cross_fit" not in meta
        assert [m["fold"] for m in meta["ensemble_of"]] == keep
        with torch.inference_mode():
            want = sum(ens.members[i](x)[0] for i in keep) / len(keep)
            torch.testing.assert_close(sub(x)[0], want)
    with pytest.raises(ValueError, match="distinct indices"):
        member_subset(payload, [3])


def _full_encoder_state(encoder: str) -> dict:
    """A state dict shaped like a published ImageNet file: every stage, plus a classifier."""
    import torch

    full = build_model(ModelConfig(encoder=encoder, input_size=64, aux_head=False, decoder_channels=(32, 16, 16, 8, 8)))
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in full.encoder.state_dict().items()}
    state["classifier.1.weight"] = torch.randn(10, 8)  # a head the encoder does not have
    return state


def test_encoder_weights_load_into_a_shallow_encoder(tmp_path):
    import torch

    state = _full_encoder_state("mobilenet_v2")
    torch.save(state, tmp_path / "imagenet.pth")
    cfg = ModelConfig(encoder="mobilenet_v2", input_size=64, encoder_depth=3, decoder_channels=(32, 16, 8),
                      encoder_weights=str(tmp_path / "imagenet.pth"))
    model = build_model(cfg)
    own = model.encoder.state_dict()
    assert own and all(torch.equal(v, state[k]) for k, v in own.items())
    # every weight is in the checkpoint: the model loads where the initial file is gone
    save_checkpoint(tmp_path / "m.pt", model, cfg, model_id="pretrained")
    (tmp_path / "imagenet.pth").unlink()
    loaded, cfg2, _ = load_checkpoint(tmp_path / "m.pt")
    assert cfg2.encoder_weights == cfg.encoder_weights  # recorded, not needed
    assert torch.equal(loaded.encoder.features[0][0].weight, state["features.0.0.weight"])


def test_cut_encoder_weights_give_the_same_start(tmp_path):
    """The cut file (what travels to a GPU box) starts the encoder exactly as the whole one."""
    import torch

    from localize.model import cut_encoder_weights

    state = _full_encoder_state("mobilenet_v2")
    torch.save(state, tmp_path / "imagenet.pth")
    cfg = ModelConfig(encoder="mobilenet_v2", input_size=64, encoder_depth=3, decoder_channels=(32, 16, 8),
                      encoder_weights=str(tmp_path / "imagenet.pth"))
    n = cut_encoder_weights(cfg, tmp_path / "cut.pth")
    cut = torch.load(tmp_path / "cut.pth", weights_only=True)
    assert n == len(cut) < len(state) and "classifier.1.weight" not in cut
    whole = build_model(cfg).encoder.state_dict()
    again = build_model(dataclasses.replace(cfg, encoder_weights=str(tmp_path / "cut.pth"))).encoder.state_dict()
    assert whole.keys() == again.keys() and all(torch.equal(whole[k], again[k]) for k in whole)
    with pytest.raises(ValueError, match="no file"):
        cut_encoder_weights(dataclasses.replace(cfg, encoder_weights=None), tmp_path / "none.pth")


def test_encoder_weights_that_do_not_fit_are_refused(tmp_path):
    import torch

    from localize.errors import InputError

    cfg = ModelConfig(encoder="mobilenet_v2", input_size=64, encoder_depth=3, decoder_channels=(32, 16, 8))
    torch.save(_full_encoder_state("resnet18"), tmp_path / "other.pth")  # another encoder's file
    with pytest.raises(InputError, match=r"other\.pth.*does not fit the encoder: \d+ of \d+ tensors missing"):
        build_model(dataclasses.replace(cfg, encoder_weights=str(tmp_path / "other.pth")))
    state = _full_encoder_state("mobilenet_v2")
    state["features.0.0.weight"] = torch.randn(8, 3, 3, 3)  # right name, wrong shape
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(InputError, match="1 of another shape"):
        build_model(dataclasses.replace(cfg, encoder_weights=str(tmp_path / "shape.pth")))
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    with pytest.raises(InputError, match="not a PyTorch state dict"):
        build_model(dataclasses.replace(cfg, encoder_weights=str(tmp_path / "junk.pth")))
    with pytest.raises(InputError, match="not found"):
        build_model(dataclasses.replace(cfg, encoder_weights=str(tmp_path / "missing.pth")))


def test_every_model_file_reader_refuses_bad_files_with_one_clear_error(tmp_path):
    """A missing path, a file that is not a torch checkpoint, a torch file of something else and
    weights that do not fit: one InputError naming the file each time, for the localizer and the
    MesoNet baseline (calibration and train.init_from read through the same fileio.read_checkpoint)."""
    import torch

    from localize.baselines.mesonet import load_mesonet
    from localize.errors import InputError
    from localize.fileio import read_checkpoint
    from localize.model import load_checkpoint, save_checkpoint

    junk = tmp_path / "photo.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe0 not a checkpoint")
    other = tmp_path / "list.pt"
    torch.save([1, 2, 3], other)
    cfg = ModelConfig(encoder="mobilenet_v2", input_size=64, encoder_depth=3, decoder_channels=(32, 16, 8))
    ok = tmp_path / "ok.pt"
    save_checkpoint(ok, build_model(cfg), cfg)
    payload = torch.load(ok, weights_only=False)
    payload["state_dict"] = {"x": torch.zeros(1)}
    wrong = tmp_path / "wrong.pt"
    torch.save(payload, wrong)
    for load in (load_checkpoint, load_mesonet):
        with pytest.raises(InputError, match="not found") as e:
            load(tmp_path / "missing.pt")
        assert "missing.pt" in str(e.value)
        for bad in (junk, other, wrong):
            with pytest.raises(InputError, match="not a") as e:
                load(bad)
            assert bad.name in str(e.value)
    with pytest.raises(InputError, match="no model_config"):
        read_checkpoint(_saved(tmp_path, {"state_dict": {}}),
                        keys=("state_dict", "model_config"))
    assert load_checkpoint(ok)[1] == cfg


def _saved(tmp_path, obj):
    import torch

    p = tmp_path / "saved.pt"
    torch.save(obj, p)
    return p
