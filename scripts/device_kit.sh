#!/usr/bin/env bash
# What a lent GPU box needs beside a crop bundle to train CONFIG, small enough to travel with it
# (the device tool sends at most 64 MiB a call: the bundle is about 48 MB, the repository 4 MB):
#   DIR/encoder.pth  the ImageNet encoder file cut to the tensors CONFIG's encoder has
#                    (localize.model.cut_encoder_weights: 270 KB instead of 14 MB, the same start)
#   DIR/whl/         wheels of what the box's image lacks (seen 2026-11-23: segmentation-models-
#                    pytorch, albumentations and their needs), at the versions installed here, for
#                    the box's Python 3.12
#
#   scripts/device_kit.sh configs/xray-cf-pre-more.yaml .carry/device
# then, on the box (carry the bundle and DIR):
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site DIR/whl/*.whl && export PYTHONPATH=/tmp/site
#   scripts/train_seeds.sh CONFIG BUNDLE OUT MIN 0 1 -- --set model.encoder_weights=DIR/encoder.pth ...
# The file name differs from CONFIG's in the checkpoint's record; its encoder_init.tensors_sha256
# is the same as a run from the whole file.
set -euo pipefail
CONFIG=${1:?usage: device_kit.sh CONFIG DIR}
DIR=${2:?usage: device_kit.sh CONFIG DIR}
PY=${PYTHON:-python}
[ -f "$CONFIG" ] || { echo "$CONFIG: no such config" >&2; exit 2; }
PKGS=(segmentation_models_pytorch albumentations albucore pydantic pydantic_core annotated-types
      typing-inspection stringzilla simsimd)
rm -rf "$DIR.part" && mkdir -p "$DIR.part/whl"
"$PY" - "$CONFIG" "$DIR.part/encoder.pth" <<'EOF'
import sys, yaml
from localize.model import ModelConfig, cut_encoder_weights
cfg = ModelConfig.from_dict(yaml.safe_load(open(sys.argv[1]))["model"])
if cfg.encoder_weights:
    print(f"encoder.pth: {cut_encoder_weights(cfg, sys.argv[2])} tensors of {cfg.encoder_weights}")
else:
    print(f"{sys.argv[1]}: no encoder weights file, none cut")
EOF
pins=()
for p in "${PKGS[@]}"; do
  v=$("$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$p") \
    || { echo "$p: not installed here, so no version to send" >&2; exit 1; }
  pins+=("$p==$v")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$DIR.part/whl" "${pins[@]}"
rm -rf "$DIR" && mv "$DIR.part" "$DIR"
echo "$DIR: $(du -sh "$DIR" | cut -f1) (${pins[*]})"
