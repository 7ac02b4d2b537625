#!/usr/bin/env bash
# A crop bundle too large for one device call (64 MiB with the repository and the kit) goes in
# parts: BUNDLE-p1, BUNDLE-p2, ... each at most MB megabytes of the bundle's files, bundle.json in
# the first. Carry one part per call, in order (the box keeps what earlier calls brought while it
# stays warm), then merge them there before training:
#
#   scripts/split_bundle.sh .carry/bundle-c40 40          # here: .carry/bundle-c40-p1, -p2
#   call 1: carry [.carry/bundle-c40-p1, .carry/device]; call 2: carry [.carry/bundle-c40-p2] and
#   scripts/split_bundle.sh --merge .carry/bundle-c40 && scripts/train_seeds.sh ... .carry/bundle-c40 ...
#
# The merge refuses an incomplete set (it checks every file bundle.json lists) and leaves the parts
# as they were; splitting refuses a folder that is not a bundle. The bundle itself is not changed.
set -euo pipefail
usage() { echo "usage: $0 BUNDLE MB | $0 --merge BUNDLE" >&2; exit 2; }
[ $# -eq 2 ] || usage
if [ "$1" = "--merge" ]; then
  b=${2%/}
  parts=("$b"-p[0-9]*)
  [ -e "${parts[0]}" ] || { echo "$b: no parts $b-p1, $b-p2, ... here" >&2; exit 2; }
  [ -f "$b-p1/bundle.json" ] || { echo "$b-p1: no bundle.json (not the first part of a bundle)" >&2; exit 2; }
  missing=$(python3 - "$b" "${parts[@]}" <<'EOF'
import json, os, sys
b, parts = sys.argv[1], sys.argv[2:]
have = {f for p in parts for f in os.listdir(p)}
want = {e["file"] for e in json.load(open(os.path.join(b + "-p1", "bundle.json")))["entries"]} | {"bundle.json"}
print(len(want - have))
EOF
)
  [ "$missing" = 0 ] || { echo "$b: $missing files missing from the parts here (carry every part first)" >&2; exit 2; }
  rm -rf "$b.part" && mkdir -p "$b.part"
  for p in "${parts[@]}"; do cp -l "$p"/* "$b.part"/ 2>/dev/null || cp "$p"/* "$b.part"/; done
  rm -rf "$b" && mv "$b.part" "$b" && rm -rf "${parts[@]}"
  echo "$b: merged from ${#parts[@]} parts"
  exit 0
fi
b=${1%/} mb=$2
[ -f "$b/bundle.json" ] || { echo "$b: not a crop bundle (no bundle.json)" >&2; exit 2; }
[[ "$mb" =~ ^[0-9]+$ ]] && [ "$mb" -gt 0 ] || { echo "$mb: not a size in MB" >&2; exit 2; }
rm -rf "$b"-p[0-9]*
python3 - "$b" "$mb" <<'EOF'
import os, shutil, sys
b, limit = sys.argv[1], int(sys.argv[2]) * 1_000_000
files = ["bundle.json"] + sorted(f for f in os.listdir(b) if f != "bundle.json")
part, size = 1, 0
for f in files:
    n = os.path.getsize(os.path.join(b, f))
    if n > limit:
        sys.exit(f"{b}/{f}: {n} bytes, more than a part may hold")
    if size and size + n > limit:
        part, size = part + 1, 0
    d = f"{b}-p{part}"
    os.makedirs(d, exist_ok=True)
    try:
        os.link(os.path.join(b, f), os.path.join(d, f))
    except OSError:
        shutil.copy2(os.path.join(b, f), os.path.join(d, f))
    size += n
print(f"{b}: {len(files)} files in {part} parts of at most {limit // 1_000_000} MB ({b}-p1 .. {b}-p{part})")
EOF
