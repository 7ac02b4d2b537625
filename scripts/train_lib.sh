# Sourced by scripts/train_seeds.sh and scripts/train_folds.sh: their shared argument handling.
# split_seeds ARG...: the arguments before "--" into seeds, those after it into extra.
split_seeds() {
  seeds=() extra=()
  while [ $# -gt 0 ]; do
    if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
    seeds+=("$1"); shift
  done
}
# require_inputs CONFIG BUNDLE: refuse (exit 2) a missing config, a folder that is no crop bundle
# and an empty seed list, before anything is written.
require_inputs() {
  [ -f "$1" ] || { echo "$1: no such config" >&2; exit 2; }
  [ -f "$2/bundle.json" ] || { echo "$2: not a crop bundle (no bundle.json)" >&2; exit 2; }
  [ ${#seeds[@]} -gt 0 ] || { echo "no seeds given" >&2; exit 2; }
}
