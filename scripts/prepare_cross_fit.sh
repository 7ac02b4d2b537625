#!/usr/bin/env bash
# Everything the cross-fitted candidates (configs/xray-cf-*.yaml) read under runs/, built in one
# resumable command from ../shared/data and the package registries, so a session that is lent a GPU
# starts training instead of re-assembling a forge command from config comments. Each step is
# skipped when its output exists (the forge resumes a partial corpus itself):
#   1. runs/registry-reals + runs/registry-people  (scripts/fetch_registry_reals.sh)
#      runs/registry-more + runs/registry-more-people (scripts/fetch_registry_more.sh, the second batch;
#      only configs that name it read it, and it is not a forge source, so the corpus below is E's)
#   2. runs/registry-faces                         (scripts/fetch_registry_faces.sh)
#   3. runs/encoder-weights                        (scripts/fetch_encoder_weights.sh)
#   4. runs/forge-people-reg-cf5                   (localize forge, 5 person folds: the sources below,
#                                                   by face rule FACE_RULE, default 1: candidates E-I's
#                                                   corpus, which K and J are pre-registered on; a
#                                                   finished corpus is kept, whatever its face_rule)
#   5. with CONFIG and BUNDLE: that config's crop bundle (train.py --export-bundle, q90 by default),
#      which scripts/train_seeds.sh trains from on a machine that has neither the videos nor dlib
#   6. with CONFIG: .carry/device (KIT=... elsewhere), what the GPU box lacks beside the bundle: the
#      encoder file cut to the stages used and the wheels its image has not (scripts/device_kit.sh)
#
#   scripts/prepare_cross_fit.sh [CONFIG BUNDLE [BUNDLE_QUALITY]]
#   scripts/prepare_cross_fit.sh configs/xray-cf-pre.yaml .carry/bundle-pre
#
# Run from the repository root with the project's environment active and ../shared/data beside the
# repository (SHARED=... to point elsewhere). The forge's sources: reals/talking_01..08 (09 and 10
# are held out), every people/ folder but Elon Musk's (his photos are the reference of a held-out
# GHOST swap), and every registry person, each folder one identity.
set -euo pipefail
CONFIG=${1:-}
BUNDLE=${2:-}
QUALITY=${3:-90}
SHARED=${SHARED:-../shared/data}
KIT=${KIT:-.carry/device}
FACE_RULE=${FACE_RULE:-1}
[ -d "$SHARED/reals" ] || { echo "$SHARED: no shared data folder (set SHARED=...)" >&2; exit 2; }
if [ -n "$CONFIG" ]; then
  [ -f "$CONFIG" ] || { echo "$CONFIG: no such config" >&2; exit 2; }
  [ -n "$BUNDLE" ] || { echo "usage: $0 [CONFIG BUNDLE [BUNDLE_QUALITY]]" >&2; exit 2; }
fi
here=$(dirname "$0")
mkdir -p runs
step() { echo "== $(date -u +%H:%M:%S) $*"; }
# relink PEOPLE_DIR CLIPS_DIR: the people folders link to the clips by absolute path; point them at
# the clips' final folder before the temporary one is renamed
relink() { local l; for l in "$1"/*/*; do ln -sfn "$PWD/$2/$(basename "$(readlink "$l")")" "$l"; done; }

if [ -d runs/registry-people ] && [ -d runs/registry-reals ]; then step "registry clips: present"
else
  step "registry clips"
  rm -rf runs/registry-reals.part runs/registry-people.part
  "$here/fetch_registry_reals.sh" runs/registry-reals.part runs/registry-people.part
  relink runs/registry-people.part runs/registry-reals
  mv runs/registry-reals.part runs/registry-reals && mv runs/registry-people.part runs/registry-people
fi

if [ -d runs/registry-more-people ] && [ -d runs/registry-more ]; then step "registry clips, second batch: present"
else
  step "registry clips, second batch"
  rm -rf runs/registry-more.part runs/registry-more-people.part
  "$here/fetch_registry_more.sh" runs/registry-more.part runs/registry-more-people.part
  relink runs/registry-more-people.part runs/registry-more
  mv runs/registry-more.part runs/registry-more && mv runs/registry-more-people.part runs/registry-more-people
fi

if [ -d runs/registry-faces ]; then step "registry portraits: present"
else step "registry portraits"; "$here/fetch_registry_faces.sh" runs/registry-faces; fi

if [ -f runs/encoder-weights/mobilenet_v2-b0353104.pth ]; then step "encoder weights: present"
else step "encoder weights"; "$here/fetch_encoder_weights.sh" runs/encoder-weights; fi

if [ -f runs/forge-people-reg-cf5/manifest.json ]; then
  # finished: left as it is, whatever its face rule; delete it to build one by another rule
  step "forge corpus runs/forge-people-reg-cf5: present (face_rule $(python -c 'import json; print(json.load(open("runs/forge-people-reg-cf5/manifest.json"))["parameters"].get("face_rule", 1))'))"
else
  step "forge corpus runs/forge-people-reg-cf5, face rule $FACE_RULE (resumed if partial)"
  from=()
  for i in 01 02 03 04 05 06 07 08; do from+=(--from "$SHARED/reals/talking_$i.mp4"); done
  for p in alexandria_ocasio_cortez donald_trump joe_biden katie_hill lin_manuel_miranda kit_harington rose_leslie; do
    from+=(--from "$SHARED/people/$p=$p")
  done
  for d in runs/registry-people/*/; do p=$(basename "$d"); from+=(--from "runs/registry-people/$p=$p"); done
  localize forge --out runs/forge-people-reg-cf5 --folds 5 --max-frames 90 --workers 2 --face-rule "$FACE_RULE" "${from[@]}"
fi

if [ -n "$CONFIG" ]; then
  if [ -f "$BUNDLE/bundle.json" ]; then step "bundle $BUNDLE: present"
  else
    step "crop bundle of $CONFIG -> $BUNDLE (quality $QUALITY)"
    python train.py -c "$CONFIG" --export-bundle "$BUNDLE" --bundle-quality "$QUALITY"
  fi
  step "device kit $KIT"
  "$here/device_kit.sh" "$CONFIG" "$KIT"
fi
step "done"
