#!/usr/bin/env bash
# python_pip_install: the install line of docs/python.md, offline, as a
# user runs it.  A copy of the sources (so the build's leftovers,
# python/build and the egg-info, stay out of the tree and parallel runs do
# not share them) is installed with
#   python3 -m venv --system-site-packages ENV      (numpy from Debian)
#   ENV/bin/pip install --no-index ./python --no-build-isolation
# which builds the C library with setup.py's own CMake run; then, from
# another folder and with no variable pointing at the build, the
# installed package is imported and its pool reads a golden session
# through the worker program installed inside the package.
# Usage: pip_install.sh SOURCE_DIR GOLDEN_DIR PYTHON SCRATCH_BASE
# Exits 77 (skipped) only when venv or pip is missing.
set -euo pipefail
src=$1 golden=$2 py=$3 base=$4

if ! "$py" -c 'import venv, ensurepip' 2>/dev/null ||
   ! "$py" -m pip --version >/dev/null 2>&1; then
  echo "skipped: $py lacks venv/ensurepip or pip (python3-venv, python3-pip)"
  exit 77
fi

mkdir -p "$base"
work=$(mktemp -d "$base/pip install.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/src" "$work/elsewhere"
# Everything but build folders and version control.
tar -C "$src" --exclude=./.git --exclude='./build*' --exclude=./out \
    --exclude=./python/build --exclude='*.egg-info' -cf - . |
  tar -xf - -C "$work/src"

"$py" -m venv --system-site-packages "$work/env"
(cd "$work/src" &&
   MEF3POOL_JOBS=2 "$work/env/bin/pip" install --no-index ./python --no-build-isolation
) > "$work/pip.log" 2>&1 || {
  tail -n 40 "$work/pip.log"
  echo "FAIL: pip install ./python --no-build-isolation (log above)"
  exit 1
}

cd "$work/elsewhere"
env -u PYTHONPATH -u MEF3POOL_WORKER -u MEF3_CLI PYTHONDONTWRITEBYTECODE=1 \
    "$work/env/bin/python" - "$work/env" "$golden" <<'EOF'
import json, os, sys
import numpy as np
import mef3pool

env, golden = (os.path.realpath(a) for a in sys.argv[1:3])
pkg = os.path.dirname(os.path.realpath(mef3pool.__file__))
assert pkg.startswith(env + os.sep), f"imported {pkg}, not the venv's"
worker = os.path.join(pkg, "mef3pool-worker")
assert os.access(worker, os.X_OK), f"no worker program at {worker}"
for f in ("py.typed", "__init__.pyi", "reader.pyi", "pool.pyi"):
    assert os.path.isfile(os.path.join(pkg, f)), f"{f} not installed"

name = "a_single_256hz"
meta = json.load(open(os.path.join(golden, "sessions", name + ".json")))
ch = meta["channels"]["ch01"]
truth = np.fromfile(os.path.join(golden, ch["truth_file"]), dtype="<i4")
t0 = ch["segments"][0]["runs"][0]["start_uutc"]
n = int(10 * ch["fs"])
path = os.path.join(golden, meta["session_path"])
with mef3pool.ReaderProcessPool(2) as pool:
    a = pool.read_window(path, ["ch01"], t0, t0 + 10_000_000)
    kids = []
    for d in os.listdir("/proc"):
        try:
            st = open(f"/proc/{d}/stat").read()
            if int(st[st.rindex(")") + 2:].split()[1]) == os.getpid():
                kids.append(os.path.realpath(f"/proc/{d}/exe"))
        except (OSError, ValueError):
            pass
    assert os.path.realpath(worker) in kids, f"workers run {kids}, not {worker}"
want = (truth[:n] * ch["units_conversion_factor"]).astype(np.float32)
assert a.shape == (1, n) and np.array_equal(a[0], want), "pool read differs"
print(f"ok: mef3pool {mef3pool.__version__} from {pkg}; a pool read of "
      f"{name} equals the golden samples")
EOF
