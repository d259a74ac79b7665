#!/usr/bin/env bash
# Installs the ONNX Runtime shared library that `ort` (load-dynamic) loads at run time.
# It comes from the PyPI wheel onnxruntime==1.31.1 (onnxruntime/capi/libonnxruntime.so.1.31.1):
# nothing is downloaded from anywhere but PyPI. Idempotent; ORT_DYLIB_PATH, when set, wins at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.31.1
LIB=.ort/onnxruntime/capi/libonnxruntime.so.$VERSION
if [ -f "$LIB" ]; then
  exit 0
fi
mkdir -p .ort/wheel
python3 -m pip download --quiet --no-deps --only-binary=:all: -d .ort/wheel "onnxruntime==$VERSION"
python3 - "$VERSION" <<'PY'
import glob, sys, zipfile
version = sys.argv[1]
wheel = sorted(glob.glob(f".ort/wheel/onnxruntime-{version}-*.whl"))[-1]
with zipfile.ZipFile(wheel) as z:
    member = f"onnxruntime/capi/libonnxruntime.so.{version}"
    z.extract(member, ".ort")
print(f"installed .ort/{member} from {wheel}")
PY
rm -rf .ort/wheel
