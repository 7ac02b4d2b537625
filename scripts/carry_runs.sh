#!/usr/bin/env bash
# Carry training runs from one machine to the next through the repository. A session here gets a
# new machine with nothing under runs/, and a cross-fitted candidate needs 6-10 hours of CPU (five
# runs of 70-120 minutes), so its runs must outlive the session that trained them. What a run
# needs to resume, or to be judged, is small (the model and its optimizer state, about 2 MB):
#
#   scripts/carry_runs.sh save RUNS DEST     e.g. runs/xray-cf-pre-defocus-lowlight carried-runs/xray-cf-pre-defocus-lowlight
#   scripts/carry_runs.sh restore DEST RUNS  the other way, before scripts/train_folds.sh resumes them
#
# Per run (RUNS/fold*/seed*/ holding last.pt) it copies last.pt (weights, optimizer, scheduler, the
# epoch it reached and the data manifest hash, so a resume on other data is refused), log.csv,
# config.yaml, data.json and metrics.json, and the fold's seed*.log; best.pt is left behind (no
# resume or judgement reads it). Each file is written under a temporary name, then renamed. Neither
# way replaces a run that has reached a later epoch than the one copied (a run started afresh on a
# new machine does not overwrite the carried one).
# Run from the repository root with the project's environment active (it reads epochs with torch).
set -euo pipefail
usage() { echo "usage: $0 save RUNS DEST | restore DEST RUNS" >&2; exit 2; }
[ $# -eq 3 ] || usage
mode=$1 src=${2%/} dst=${3%/}
case "$mode" in save|restore) ;; *) usage ;; esac
[ -d "$src" ] || { echo "$src: no such folder" >&2; exit 2; }
epoch() {  # epoch recorded in a last.pt, 0 when there is none
  [ -f "$1" ] || { echo 0; return; }
  python -c 'import sys, torch; print(int(torch.load(sys.argv[1], map_location="cpu", weights_only=False).get("epoch") or 0))' "$1"
}
put() {  # put FILE DIR: copy FILE into DIR atomically
  cp "$1" "$2/.$(basename "$1").part" && mv -f "$2/.$(basename "$1").part" "$2/$(basename "$1")"
}
n=0
shopt -s nullglob
for last in "$src"/fold*/seed*/last.pt; do
  run=$(dirname "$last") rel=${last#"$src"/}; rel=$(dirname "$rel")
  have=$(epoch "$dst/$rel/last.pt") got=$(epoch "$last")
  n=$((n + 1))
  if [ "$have" -gt "$got" ]; then
    echo "$dst/$rel: at epoch $have, later than epoch $got of $run: left as it is"; continue
  fi
  mkdir -p "$dst/$rel"
  for f in log.csv config.yaml data.json metrics.json; do [ -f "$run/$f" ] && put "$run/$f" "$dst/$rel"; done
  put "$last" "$dst/$rel"  # last, so a run with last.pt has the rest of its files
  fold=$(dirname "$rel")
  for f in "$src/$fold"/seed*.log; do put "$f" "$dst/$fold"; done
  echo "$dst/$rel: epoch $got"
done
[ "$n" -gt 0 ] || { echo "$src: no runs (fold*/seed*/last.pt)" >&2; exit 2; }
