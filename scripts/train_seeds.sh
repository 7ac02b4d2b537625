#!/usr/bin/env bash
# Train several seeds of one config at once from a crop bundle (`train.py --export-bundle`),
# e.g. on a GPU box that has neither the videos nor PyAV/dlib. Each run stops between epochs
# before MINUTES run out and resumes from its last epoch when the script is run again, so a machine with
# a per-command time limit finishes them over several calls. Loader workers are shared out
# over the CPU cores; fp32 as on the CPU (amp off) unless EXTRA overrides it.
#
#   scripts/train_seeds.sh CONFIG BUNDLE OUT MINUTES SEED... [-- --set KEY=VALUE ...]
#   scripts/train_seeds.sh configs/xray.yaml bundle-xray runs/xray-gpu 9 0 1 2 3
#   python train.py --package runs/xray-gpu/seed{0,1,2,3}/last.pt ens.pt --set data.bundle=bundle-xray
set -euo pipefail
if [ $# -lt 5 ]; then
  echo "usage: $0 CONFIG BUNDLE OUT MINUTES SEED... [-- --set KEY=VALUE ...]" >&2; exit 2
fi
config=$1 bundle=$2 out=$3 minutes=$4; shift 4
. "$(dirname "$0")/train_lib.sh"
split_seeds "$@"
require_inputs "$config" "$bundle"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 NO_ALBUMENTATIONS_UPDATE=1
cores=$(nproc)
workers=$(( (cores - ${#seeds[@]}) / ${#seeds[@]} )); [ $workers -lt 1 ] && workers=1
mkdir -p "$out"
pids=()
for s in "${seeds[@]}"; do
  python train.py -c "$config" --set 'data.sources=[]' --set "data.bundle=$bundle" --set "seed=$s" \
    --set "train.out=$out/seed$s" --set "data.num_workers=$workers" --set train.amp=off --set train.threads=1 \
    --set "train.time_limit_min=$minutes" --set train.stop_at_epoch_end=true "${extra[@]}" --resume --quiet \
    >> "$out/seed$s.log" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
for s in "${seeds[@]}"; do
  echo "== seed $s: $(grep -E 'epoch [0-9]+:' "$out/seed$s.log" | tail -1 | cut -c1-100)"
  grep -E "time limit|Error" "$out/seed$s.log" | tail -1 || true
done
exit $status
