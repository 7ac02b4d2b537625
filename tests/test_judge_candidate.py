"""benchmarks/judge_candidate.py: the steps come in the pre-registered order (held-out media
after the verdict, speed only when the rule passed), finished steps are skipped on a re-run,
and a failing step stops the judgement."""
from __future__ import annotations

import importlib.util
import io
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def judge():
    spec = importlib.util.spec_from_file_location("judge_candidate", ROOT / "benchmarks" / "judge_candidate.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses resolve their annotations through it
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


def _runs(root: Path, folds: int, seeds: tuple[int, ...] = (0, 1)) -> Path:
    runs = root / "cand"
    for j in range(folds):
        for s in seeds:
            (runs / f"fold{j}" / f"seed{s}").mkdir(parents=True)
            (runs / f"fold{j}" / f"seed{s}" / "last.pt").write_bytes(b"")
    return runs


def _plan(judge, tmp_path, runs, folds=3):
    return judge.plan(Path("configs/c.yaml"), runs, "cand", "a note", folds=folds,
                      sources=[{"path": "corpus", "kind": "pairs"}], out_dir=tmp_path / "res" / "cand",
                      model_dir=tmp_path / "models", results=tmp_path / "res")


def test_plan_packages_every_fold_then_judges_before_any_held_out_figure(judge, tmp_path):
    runs = _runs(tmp_path, 3)
    steps = _plan(judge, tmp_path, runs)
    names = [s.name for s in steps]
    assert names[:4] == ["package", "package fold 0", "package fold 1", "package fold 2"]
    assert names.index("calibrate out of fold") < names.index("shipping rule") < names.index("held-out figures")
    assert names.index("held-out figures") < names.index("speed (only if the rule passed)")
    # the luma association is read from the out-of-fold record, after everything that decides
    assert names[-2:] == ["out-of-fold calibration record", "score vs face luma (reported)"]
    assert any(a.endswith("calibration.json") for a in steps[-1].argv)
    whole = steps[0].argv
    assert sum(a.endswith("last.pt") for a in whole) == 6  # every run of every fold
    assert sum(a.endswith("last.pt") for a in steps[2].argv) == 2 and "fold1" in steps[2].argv[3]
    # runs trained from a crop bundle get the config's videos back for validation
    assert 'data.sources=[{"path": "corpus", "kind": "pairs"}]' in whole and "data.bundle=null" in whole
    rule = steps[names.index("shipping rule")].argv
    assert rule.count("--oof") == 1 and sum("analyze_shared_fold" in a for a in rule) == 3
    cal = str(tmp_path / "models" / "cand-cal.pt")
    assert all(cal in s.argv for s in steps if s.name in ("shipping rule", "held-out figures"))


def test_a_fold_of_one_run_is_packaged_as_it_is(judge, tmp_path):
    """Seed 0 of each fold (F, the E5/G5/H5 fallbacks): `train.py --package` refuses --set for one
    checkpoint, so a fold of one run is packaged without it (found by a dress rehearsal of H);
    the whole candidate, several runs, still gets the config's videos back."""
    steps = _plan(judge, tmp_path, _runs(tmp_path, 3, seeds=(0,)))
    assert "--set" in steps[0].argv
    for s in steps[1:4]:
        assert s.name.startswith("package fold") and "--set" not in s.argv
        assert sum(a.endswith("last.pt") for a in s.argv) == 1


def test_extra_reals_reach_every_fold_analysis_and_nothing_else(judge, tmp_path):
    """Per-face reports of clips outside the shared data (a pre-registration's "reported, not
    decided on"): each fold's analysis scores them; the candidate's own analysis and the rule do not."""
    steps = judge.plan(Path("configs/c.yaml"), _runs(tmp_path, 2), "cand", "n", folds=2,
                       sources=[{"path": "corpus", "kind": "pairs"}], out_dir=tmp_path / "r" / "cand",
                       model_dir=tmp_path / "m", results=tmp_path / "r", extra_reals=("more", "clips"))
    by = {s.name: s.argv for s in steps}
    for j in (0, 1):
        a = by[f"analyze shared media, fold {j}"]
        assert a[a.index("--extra-reals") + 1:] == ["more", "clips"]
    assert "--extra-reals" not in by["analyze shared media"] and "--extra-reals" not in by["shipping rule"]


def test_a_fold_without_runs_is_refused(judge, tmp_path):
    runs = _runs(tmp_path, 2)
    with pytest.raises(ValueError, match="fold2"):
        _plan(judge, tmp_path, runs, folds=3)


def _write(path: Path, content: str = "{}") -> list[str]:
    """A step command that writes ``content`` to ``path``."""
    return [sys.executable, "-c", f"import pathlib; pathlib.Path({str(path)!r}).write_text({content!r})"]


def test_resume_skips_done_steps_and_speed_waits_for_a_passing_rule(judge, tmp_path):
    a, verdict, speed = tmp_path / "a.json", tmp_path / "verdict.json", tmp_path / "speed.json"
    a.write_text("{}")  # done in an earlier call
    steps = [judge.Step("first", [sys.executable, "-c", "raise SystemExit(3)"], a, tmp_path / "log"),
             judge.Step("shipping rule", _write(verdict, json.dumps({"ship": False})), verdict, tmp_path / "log"),
             judge.Step("speed (only if the rule passed)", _write(speed), speed, tmp_path / "log")]
    out = io.StringIO()
    assert judge.run(steps, out=out) == 0  # the failing first step is not run again
    assert verdict.exists() and not speed.exists()
    assert "= first: done" in out.getvalue() and "skipped, the rule did not pass" in out.getvalue()
    verdict.write_text(json.dumps({"ship": True}))
    assert judge.run(steps, out=io.StringIO()) == 0 and speed.exists()


def test_a_failing_step_stops_and_a_silent_one_is_caught(judge, tmp_path):
    never = tmp_path / "never.json"
    steps = [judge.Step("fails", [sys.executable, "-c", "raise SystemExit(4)"], tmp_path / "x", tmp_path / "log"),
             judge.Step("after", _write(never), never, tmp_path / "log")]
    out = io.StringIO()
    assert judge.run(steps, out=out) == 4 and not never.exists() and "fails failed (exit 4)" in out.getvalue()
    silent = [judge.Step("silent", [sys.executable, "-c", "pass"], tmp_path / "y", tmp_path / "log")]
    assert judge.run(silent, out=io.StringIO()) == 1


def test_stdout_output_is_written_whole_or_not_at_all(judge, tmp_path):
    dst = tmp_path / "cal.json"
    ok = judge.Step("record", [sys.executable, "-c", "print('{\"a\": 1}')"], dst, stdout_to=dst)
    assert judge.run([ok], out=io.StringIO()) == 0 and json.loads(dst.read_text()) == {"a": 1}
    dst2 = tmp_path / "cal2.json"
    bad = judge.Step("record", [sys.executable, "-c", "print('{'); raise SystemExit(1)"], dst2, stdout_to=dst2)
    assert judge.run([bad], out=io.StringIO()) == 1
    assert not dst2.exists() and not list(tmp_path.glob("cal2.json*"))


def test_dry_run_runs_nothing(judge, tmp_path):
    runs = _runs(tmp_path, 2, seeds=(0,))
    steps = _plan(judge, tmp_path, runs, folds=2)
    out = io.StringIO()
    assert judge.run(steps, dry_run=True, out=out) == 0
    assert out.getvalue().count("\n> ") + out.getvalue().startswith("> ") == len(steps)
    assert not (tmp_path / "models").exists() and not (tmp_path / "res").exists()


def test_runs_that_stopped_early_are_named(judge, tmp_path):
    import torch

    done, short = tmp_path / "a.pt", tmp_path / "b.pt"
    torch.save({"epoch": 30, "config": {"train": {"epochs": 30}}}, done)
    torch.save({"epoch": 12, "config": {"train": {"epochs": 30}}}, short)
    assert judge.unfinished([done, short]) == [f"{short} (epoch 12 of 30)"]
