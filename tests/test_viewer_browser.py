"""The viewer in a real browser: headless Debian Chromium driven by playwright-python
against a real `localize serve` (uvicorn) on 127.0.0.1, uploading the real FF++ c23
fake 519_515.mp4.

Skips with the reason when Chromium or playwright is missing, except under CI=true,
where that is a failure (.ci/run installs both). The screenshot is written to
``$LOCALIZE_SCREENSHOT_DIR`` (default: the test's tmp folder); it shows FF++ footage,
so it never goes into the repository.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("LOCALIZE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
FAKE = Path("ffpp/manipulated_sequences/Deepfakes/c23/videos/519_515.mp4")
ROOT = Path(__file__).resolve().parents[1]


def _unavailable(reason: str):
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI must install it: see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium_playwright():
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright-python is not installed (pip install playwright)")
    return sync_playwright


@contextlib.contextmanager
def _viewer(chromium_playwright, live_server, height: int = 1000):
    """The viewer page open in Chromium: (page, the page errors it raised)."""
    with chromium_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": height})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(live_server + "/")
            yield page, errors
        finally:
            browser.close()


@pytest.fixture(scope="module")
def served_model(tmp_path_factory):
    """The shipped model when it exists, else a small random-weight model; exported to
    ONNX as `localize serve --model M.onnx` expects. The random model gets a calibration
    fitted on synthetic validation scores so the page has a decision and an operating
    point to show (this test checks the display, not the model's accuracy)."""
    from localize.decision import fit_calibration
    from localize.export import export_onnx
    from localize.model import DEFAULT_MODEL, ModelConfig, build_model, save_checkpoint

    d = tmp_path_factory.mktemp("served-model")
    if DEFAULT_MODEL.exists():
        ckpt = DEFAULT_MODEL
    else:
        import torch

        torch.manual_seed(0)
        cfg = ModelConfig(encoder="resnet18", input_size=128, decoder_channels=(64, 32, 16, 16, 8))
        reals = [0.0, 0.002, 0.004, 0.006, 0.01, 0.012, 0.015, 0.02]
        fakes = [0.08, 0.12, 0.2, 0.3, 0.35, 0.5, 0.6, 0.7]
        cal = fit_calibration(reals + fakes, [0] * len(reals) + [1] * len(fakes))
        ckpt = d / "random.pt"
        save_checkpoint(ckpt, build_model(cfg), cfg, model_id="random-test-model", calibration=cal.to_dict())
    return export_onnx(ckpt, d / "model.onnx")


@pytest.fixture(scope="module")
def live_server(served_model, carphone, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    # one enrolled person, so the page offers an identity check (`localize serve --profiles`)
    from localize.cli import main as cli

    profiles, features = tmp_path_factory.mktemp("profiles"), tmp_path_factory.mktemp("features")
    assert cli(["enroll", "--person", "carphone", f"{carphone}@0-2.2", "--profiles", str(profiles),
                "--cache", str(features), "--quiet"]) == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(results.parent / "server.log", "w+")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "localize", "serve", "--model", str(served_model),
                             "--host", "127.0.0.1", "--port", str(port), "--results-dir", str(results),
                             "--threads", "2", "--log-level", "warning", "--profiles", str(profiles),
                             "--feature-cache", str(features)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.time() + 90
    while True:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"the server exited ({proc.returncode}):\n{log.read()[-3000:]}")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.time() > deadline:
            proc.kill()
            pytest.fail("the server did not become ready in 90 s")
        time.sleep(0.3)
    yield base
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_viewer_uploads_real_fake_and_shows_the_result(chromium_playwright, live_server, shared_data, tmp_path):
    import httpx

    video = shared_data / FAKE
    shots = Path(os.environ.get("LOCALIZE_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    console_errors: list[str] = []
    with chromium_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1300})
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            page.goto(live_server + "/")
            assert page.title().startswith("localize")
            page.set_input_files("#file", str(video))  # the page uploads as soon as a file is chosen
            page.wait_for_selector("#progress-panel:not([hidden])", timeout=10_000)
            page.wait_for_selector("#result:not([hidden])", timeout=110_000)
            assert page.is_hidden("#error"), page.inner_text("#error")

            job_id = page.evaluate("() => state.job")
            job = httpx.get(f"{live_server}/v1/jobs/{job_id}", timeout=10).json()
            video_r = job["report"]["video"]
            assert job["input"]["filename"] == "519_515.mp4" and job["report"]["input"]["n_frames"] == 751

            # verdict, probability and operating point as the report states them
            expected = {"fake": "FAKE", "real": "REAL", "no_face": "NO FACE", "uncalibrated": "NO DECISION"}
            assert page.inner_text("#verdict").strip() == expected[video_r["decision"]]
            assert video_r["decision"] in ("fake", "real"), "the FF++ fake has a face: a calibrated model decides"
            assert page.get_attribute("#verdict", "data-decision") == video_r["decision"]
            assert page.inner_text("#probability").strip() == f"{100 * video_r['probability']:.1f}%"
            op = page.inner_text("#operating-point")
            assert f"threshold {video_r['operating_point']['threshold']:.3f}" in op and "target FPR 1.0%" in op
            tprob = 100 * video_r["operating_point"]["threshold_probability"]
            assert f"called fake above probability {tprob:.1f}%" in op
            # where the file came from: the FF++ c23 fake was written by FFmpeg (report.input.metadata)
            assert "FFmpeg: not a camera original" in page.inner_text("#file-line")
            # how firmly the frames decide (report.video.stability)
            stab = video_r["stability"]
            lo, hi = stab["score_interval"]
            assert f"{lo:.3f}–{hi:.3f}" in page.inner_text("#stability")
            assert page.get_attribute("#verdict", "data-marginal") == str(stab["marginal"]).lower()
            assert page.inner_text("#stability").startswith("Marginal" if stab["marginal"] else "Firm")

            # the overlay video really decodes in the browser (H.264) and has the report's size
            page.wait_for_function("() => document.getElementById('overlay').readyState >= 2", timeout=20_000)
            vw, vh = page.evaluate("() => [overlay.videoWidth, overlay.videoHeight]")
            assert (vw, vh) == (640, 480)
            lit = page.evaluate("""() => { const v = document.getElementById('overlay');
                const c = document.createElement('canvas'); c.width = 64; c.height = 48;
                const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 48);
                const d = g.getImageData(0, 0, 64, 48).data; let n = 0;
                for (let i = 0; i < d.length; i += 4) if (d[i] + d[i+1] + d[i+2] > 60) n++;
                return n / (64 * 48); }""")
            assert lit > 0.3, f"overlay frame is mostly black ({lit:.2f} lit): not decoded"

            # the timeline is drawn: marker + points; clicking seeks to the nearest analysed frame
            drawn = page.evaluate("""() => { const c = document.getElementById('timeline');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
                for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n / (c.width * c.height); }""")
            assert drawn > 0.01
            analysed = [f["index"] for f in job["report"]["frames"]]
            assert len(analysed) == 32
            timeline = page.locator("#timeline")
            timeline.scroll_into_view_if_needed()
            box = timeline.bounding_box()
            pad_l, pad_r = 36, 8  # the plot's margins in app.js
            target = 600
            x = pad_l + (box["width"] - pad_l - pad_r) * target / 750
            timeline.click(position={"x": x, "y": box["height"] / 2})
            nearest = min(analysed, key=lambda i: abs(i - target))
            page.wait_for_function(f"() => timeline.dataset.currentFrame === '{nearest}'", timeout=10_000)
            assert page.inner_text("#frame-label").startswith(f"frame {nearest} / 750")
            # the original (the chosen file, played locally) follows the overlay's frame
            page.wait_for_function(f"() => Math.abs(original.currentTime - {(nearest + 0.5) / 25}) < 0.05",
                                   timeout=10_000)

            # the page says which map the heatmap is (the shipped model: forged pixels, report.model.target)
            assert job["report"]["model"]["target"] == "mask"
            assert "forged-pixel probability" in page.inner_text("#heatmap-meaning")
            assert page.inner_text("#score-meaning") == "forged-area fraction"
            assert "for videos" in page.inner_text("#operating-point")  # which operating point decided

            # heatmap opacity slider
            page.fill("#opacity", "35")
            page.dispatch_event("#opacity", "input")
            assert page.evaluate("() => overlay.style.opacity") == "0.35"
            assert page.inner_text("#opacity-value") == "35%"

            # face tracks, most suspicious frames, the JSON report link
            rows = page.locator("#tracks tbody tr")
            assert rows.count() == len(job["report"]["tracks"]) >= 1
            assert rows.first.inner_text().startswith(f"#{job['report']['tracks'][0]['track_id']}")
            page.wait_for_function("() => [...document.querySelectorAll('#suspicious img')]"
                                   ".every(i => i.complete && i.naturalWidth > 0)", timeout=10_000)
            n_key = page.locator("#suspicious img").count()
            assert n_key == min(12, len(job["report"]["key_frames"])) >= 1
            href = page.get_attribute("#download-report", "href")
            assert href.startswith("blob:")
            with page.expect_download() as dl:
                page.click("#download-report")
            import json

            assert json.loads(Path(dl.value.path()).read_text())["video"] == video_r

            page.fill("#opacity", "100")
            page.dispatch_event("#opacity", "input")
            page.screenshot(path=str(shots / "viewer_519_515.png"), full_page=True)
            assert (shots / "viewer_519_515.png").stat().st_size > 20_000
        finally:
            browser.close()
    assert not console_errors, console_errors


def test_viewer_drag_and_drop_of_a_photo(chromium_playwright, live_server, tmp_path):
    """Dropping a file works like choosing one; an image shows its analysed key frame."""
    import base64

    import cv2

    from localize.media import astronaut_image

    ok, png = cv2.imencode(".png", cv2.cvtColor(astronaut_image(), cv2.COLOR_RGB2BGR))
    assert ok
    b64 = base64.b64encode(png.tobytes()).decode()
    with _viewer(chromium_playwright, live_server) as (page, errors):
        dt = page.evaluate_handle("""(b64) => { const bin = atob(b64); const u = new Uint8Array(bin.length);
            for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
            const d = new DataTransfer(); d.items.add(new File([u], 'astronaut.png', { type: 'image/png' }));
            return d; }""", b64)
        page.dispatch_event("#drop", "drop", {"dataTransfer": dt})
        page.wait_for_selector("#result:not([hidden])", timeout=60_000)
        assert page.is_hidden("#error")
        job = page.evaluate("() => state.job")
        import httpx

        report = httpx.get(f"{live_server}/v1/jobs/{job}", timeout=10).json()["report"]
        assert report["input"]["is_image"] and report["input"]["name"] == "astronaut.png"
        if report["status"] == "ok":  # dlib finds Eileen Collins' face: her key frame is shown
            page.wait_for_function("() => still.complete && still.naturalWidth > 0", timeout=10_000)
            assert page.is_visible("#still") and page.is_hidden("#overlay")
        else:
            assert page.inner_text("#verdict").strip() == "NO FACE"
        page.screenshot(path=str(tmp_path / "viewer_photo.png"))
    assert not errors, errors


def test_viewer_follows_the_timestamps_of_a_variable_frame_rate_video(chromium_playwright, live_server, vfr_clip):
    """25 fps for 60 frames, then 12.5 fps: the original is sought to each analysed frame's own
    timestamp (report time), not to index / average rate (which is 0.4 s off at frame 100)."""
    vfr = vfr_clip
    with _viewer(chromium_playwright, live_server) as (page, errors):
        page.set_input_files("#file", str(vfr))
        page.wait_for_selector("#result:not([hidden])", timeout=110_000)
        assert page.evaluate("() => state.vfr && state.stepped")
        frames = page.evaluate("() => state.frames.map((f) => [f.index, f.time])")
        n, t = min(frames, key=lambda f: abs(f[0] - 100))
        assert n > 60 and abs(t - (2.4 + (n - 60) / 12.5)) < 0.03  # the frame's own timestamp
        page.wait_for_function("() => original.readyState >= 1", timeout=20_000)
        page.evaluate(f"() => seekFrame({n})")
        page.wait_for_function(f"() => Math.abs(original.currentTime - {t}) < 0.06", timeout=10_000)
        assert abs(page.evaluate("() => original.currentTime") - n / (120 / 7.2)) > 0.2  # not index / rate
    assert not errors, errors


def test_viewer_checks_identity_against_an_enrolled_person(chromium_playwright, live_server, carphone, tmp_path):
    """A server started with --profiles offers its enrolled people; the identity scorer's verdict is shown
    beside the localizer's, as the report states it."""
    import httpx
    import imageio_ffmpeg

    clip = tmp_path / "carphone_late.mp4"  # the part of carphone not enrolled
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-ss", "2.2", "-i", str(carphone),
                    "-c:v", "libx264", "-crf", "12", str(clip)], check=True)
    with _viewer(chromium_playwright, live_server) as (page, errors):
        page.wait_for_selector("#person-option:not([hidden])", timeout=10_000)
        assert page.evaluate("() => [...person.options].map((o) => o.value)") == ["", "carphone"]
        page.select_option("#person", "carphone")
        page.set_input_files("#file", str(clip))
        page.wait_for_selector("#result:not([hidden])", timeout=110_000)
        assert page.is_hidden("#error"), page.inner_text("#error")
        job = httpx.get(f"{live_server}/v1/jobs/{page.evaluate('() => state.job')}", timeout=10).json()
        ident = job["report"]["identity"]
        assert ident["person"] == "carphone" and ident["decision"] == "real" and ident["video"] == "carphone_late.mp4"
        assert job["summary"]["identity"] == {"person": "carphone", "decision": "real", "status": "scored"}
        text = page.inner_text("#identity")
        assert "Identity check against carphone: REAL" in text
        assert f"Probability fake {100 * ident['fake_probability']['fused']:.1f}%" in text
        disagree = job["report"]["video"]["decision"] == "fake"
        assert (page.query_selector("#identity [data-disagree]") is not None) == disagree
        page.screenshot(path=str(tmp_path / "viewer_identity.png"))
    assert not errors, errors
