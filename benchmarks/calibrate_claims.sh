#!/usr/bin/env bash
# Calibrate every claim: run the claims tests on many seeds and on one or more float paths, two jobs at a time
# (one file of claims per job, one thread each), and keep every claim's numbers and outcome per seed.
#   benchmarks/calibrate_claims.sh PATH@SEEDS...   e.g.  benchmarks/calibrate_claims.sh native@0,1,2,3 alt@0,1
# A path is `native` (this machine's defaults) or `alt` (ATen's scalar kernels and oneDNN at SSE4.1: another float
# path at no matmul cost; see fourpapers.book.ALT_FLOAT_PATH). Results: _build/calibration/<path>/<file>.jsonl
# (read them with fourpapers.claims.read_results) and .log (the claims lines and pytest's summary).
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: calibrate_claims.sh PATH@SEEDS... (PATH: native or alt)"; exit 2; }
py=${PY:-.venv/bin/python}
files="tests/test_ulmfit.py tests/gopher/test_scaling.py tests/test_ln_placement.py tests/test_fast_weights.py tests/test_toolkit.py"
jobs=()
for f in $files; do for spec in "$@"; do jobs+=("${spec%@*} ${spec#*@} $f"); done; done
run_one() {
  local p=$1 seeds=$2 f=$3 out=_build/calibration/$1 name
  name=$(basename "$f" .py)
  mkdir -p "$out"; rm -f "$out/$name.jsonl"
  local env=()
  case $p in
    native) ;;
    alt) env=(ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41) ;;
    *) echo "unknown float path $p (expected native or alt)"; return 2 ;;
  esac
  local t0=$SECONDS
  env "${env[@]}" FOURPAPERS_SEEDS="$seeds" FOURPAPERS_CLAIMS_JSONL="$out/$name.jsonl" OMP_NUM_THREADS=1 \
    "$py" -m pytest -p no:cacheprovider -p no:xdist -q -m claims "$f" > "$out/$name.log" 2>&1
  echo "$p $f: exit $? in $((SECONDS - t0)) s" | tee -a "$out/$name.log"
}
export -f run_one; export py
printf '%s\n' "${jobs[@]}" | xargs -P "${JOBS:-2}" -L 1 bash -c 'run_one $0 $1 $2'
