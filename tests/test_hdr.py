"""HDR (PQ, HLG) frames are tone-mapped to SDR as a player shows them (localize.hdr)."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from localize import hdr
from localize import video as V


def test_reference_white_is_sdr_white_and_highlights_stay_below_it():
    # BT.2408: HDR reference white, 203 cd/m2, is PQ signal 0.58 and HLG signal 0.75
    assert hdr.pq_to_nits(np.array(0.5806)) == pytest.approx(203, rel=0.01)
    assert hdr.pq_to_nits(np.array([0.0, 1.0])).tolist() == pytest.approx([0.0, 10000.0])
    assert hdr.hlg_to_nits(np.full((1, 3), 0.75))[0] == pytest.approx([203, 203, 203], rel=0.01)
    x = np.array([[0.5, 0.2, 0.1], [0.75, 0.0, 0.0], [1.0, 0.5, 0.25], [40.0, 20.0, 10.0]], np.float32)
    y = hdr.compress_highlights(x.copy())
    assert np.allclose(y[:2], x[:2])  # below the knee: unchanged
    assert np.all(y <= 1.0) and y[2, 0] < y[3, 0] and np.allclose(y[2] / y[2, 0], [1, 0.5, 0.25])  # hue kept
    for t in (hdr.PQ, hdr.HLG):  # reference white in, near SDR white out; black stays black
        white = 0.5806 if t == hdr.PQ else 0.75
        codes = (np.array([[[white] * 3, [0.0] * 3]]) * 65535).astype(np.uint16)
        out = hdr.to_sdr(codes, t)
        assert out.dtype == np.uint8 and 235 <= out[0, 0, 0] <= 250 and out[0, 1].max() == 0


@pytest.mark.parametrize("transfer", ["smpte2084", "arib-std-b67"])
def test_hdr_video_reads_like_its_sdr_source(carphone, tmp_path, transfer):
    """An SDR clip graded to PQ or HLG (BT.2408 placement: SDR white at reference white) reads
    back within a few grey levels of the SDR clip (2-5 here); read as SDR it is far darker or flatter."""
    import av
    import imageio_ffmpeg

    ff = imageio_ffmpeg.get_ffmpeg_exe()
    sdr, pq, out = tmp_path / "sdr.mp4", tmp_path / "pq.mp4", tmp_path / f"{transfer}.mp4"
    run = [ff, "-y", "-loglevel", "error", "-i"]
    subprocess.run([*run, str(carphone), "-t", "2", "-c:v", "libx264", "-crf", "16", str(sdr)], check=True)
    x265 = ["-c:v", "libx265", "-crf", "16", "-x265-params", "log-level=error"]
    to = "format=gbrpf32le,zscale=tin={tin}:t={t}:pin={pin}:p=bt2020:min=gbr:m=bt2020nc:r=tv:npl=203,format=yuv420p10le"
    subprocess.run([*run, str(sdr), "-vf", to.format(tin="bt709", t="smpte2084", pin="bt709"), *x265, str(pq)],
                   check=True)
    if transfer != "smpte2084":  # HLG from the PQ grade (display light to HLG for a 1000 cd/m2 display)
        subprocess.run([*run, str(pq), "-vf", to.format(tin="smpte2084", t=transfer, pin="bt2020"), *x265, str(out)],
                       check=True)
    else:
        out = pq
    info = V.probe(out)
    assert info.hdr == hdr.HDR_TRANSFERS[hdr.PQ if transfer == "smpte2084" else hdr.HLG]
    assert V.probe(sdr).hdr is None
    want = dict(V.iter_frames(sdr, [5, 40]))
    got = dict(V.iter_frames(out, [5, 40]))
    with av.open(str(out)) as c:
        naive = next(f for i, f in enumerate(c.decode(video=0)) if i == 5).to_ndarray(format="rgb24")
    for i in (5, 40):
        assert got[i].shape == want[i].shape
        assert np.abs(got[i].astype(int) - want[i]).mean() < 6  # highlights above the knee lose a little
    naive = V.square_pixels(naive, V.sample_aspect(av.open(str(out)).streams.video[0]))
    assert np.abs(naive.astype(int) - want[5]).mean() > 15
