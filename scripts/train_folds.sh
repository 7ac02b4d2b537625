#!/usr/bin/env bash
# Train every fold of a cross-fitting config on this machine, one fold after another (each fold's
# seeds at once, by scripts/train_seeds.sh), until a deadline: a machine with no device, e.g. 2 CPU
# cores in sessions of a few hours. Every run stops at an epoch's end before the deadline and
# resumes from its last epoch when the script is run again (a finished run only reloads), so a
# recipe too long for one session finishes over several. Fold f trains into OUT/fold$f/seed$s, the
# layout of the GPU runbook and of benchmarks/judge_candidate.py --runs OUT.
#
#   scripts/train_folds.sh CONFIG BUNDLE OUT UNTIL SEED... [-- --set KEY=VALUE ...]
#   scripts/train_folds.sh configs/xray-cf-pre-defocus-lowlight.yaml .carry/bundle-more \
#       runs/xray-cf-pre-defocus-lowlight 14:30 0
#
# UNTIL: a UTC time today (HH:MM) or +MINUTES from now. The folds are data.folds of CONFIG. Compute
# threads are the cores shared out over the seeds (train.threads; one loader worker per run); a
# --set after -- overrides that or anything else. A fold is not started with less than MIN_MINUTES
# (default 5) left: a run always trains one epoch before it can stop.
set -euo pipefail
if [ $# -lt 5 ]; then
  echo "usage: $0 CONFIG BUNDLE OUT UNTIL SEED... [-- --set KEY=VALUE ...]" >&2; exit 2
fi
config=$1 bundle=$2 out=$3 until=$4; shift 4
. "$(dirname "$0")/train_lib.sh"
split_seeds "$@"
require_inputs "$config" "$bundle"
now=$(date -u +%s)
case "$until" in
  +[0-9]*) [[ "${until#+}" =~ ^[0-9]+$ ]] || { echo "$until: UNTIL is HH:MM (UTC) or +MINUTES" >&2; exit 2; }
           deadline=$(( now + 60 * ${until#+} )) ;;
  [0-9]*:[0-9][0-9]) deadline=$(date -u -d "$until" +%s 2>/dev/null) \
                       || { echo "$until: UNTIL is HH:MM (UTC) or +MINUTES" >&2; exit 2; } ;;
  *) echo "$until: UNTIL is HH:MM (UTC) or +MINUTES" >&2; exit 2 ;;
esac
[ "$deadline" -gt "$now" ] || { echo "$until: that time (UTC) has passed" >&2; exit 2; }
folds=$(python -c 'import sys, yaml; print(int((yaml.safe_load(open(sys.argv[1])).get("data") or {}).get("folds") or 0))' "$config")
[ "$folds" -gt 1 ] || { echo "$config: not a cross-fitting config (data.folds < 2)" >&2; exit 2; }
threads=$(( $(nproc) / ${#seeds[@]} )); [ $threads -lt 1 ] && threads=1
here=$(dirname "$0")
for ((f = 0; f < folds; f++)); do
  left=$(( (deadline - $(date -u +%s)) / 60 ))
  if [ "$left" -lt "${MIN_MINUTES:-5}" ]; then echo "== $(date -u +%H:%M) $left min left: stopping before fold $f"; exit 0; fi
  echo "== $(date -u +%H:%M) fold $f of $folds, $left min left"
  "$here/train_seeds.sh" "$config" "$bundle" "$out/fold$f" "$left" "${seeds[@]}" -- --set "data.fold=$f" \
    --set data.num_workers=1 --set "train.threads=$threads" "${extra[@]}"
done
echo "== $(date -u +%H:%M) every fold's runs stopped; see $out/fold*/seed*.log"
