#!/usr/bin/env bash
# Refresh Stormwatch's dependency lock (see deploy/README.md, "The lock").
# Usage: bash deploy/lock.sh [--upgrade | --upgrade-package NAME ...]
#   no argument: re-resolve only what pyproject.toml changed (keeps every other pin)
#   --upgrade:   move every pin to the newest version pyproject.toml allows
# Writes uv.lock (the one resolution, all platforms, Python >= 3.11) and the hashed pip files exported from it:
#   deploy/requirements.lock        runtime dependencies (the container image)
#   deploy/requirements-test.lock   runtime + the `test` extra (make test, CI)
#   deploy/requirements-build.lock  the build backend (setuptools), for `pip install --no-build-isolation`
# Needs uv only here: on PATH, or installed into a throwaway venv from PyPI. Installing needs plain pip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV_VERSION="0.13.9"

uv_cmd() {
    if command -v uv >/dev/null 2>&1; then uv "$@"; return; fi
    local venv="${TMPDIR:-/tmp}/stormwatch-lock-uv-$UV_VERSION"
    if [[ ! -x $venv/bin/uv ]]; then
        printf 'lock.sh: installing uv==%s into %s (pip)\n' "$UV_VERSION" "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q "uv==$UV_VERSION"
    fi
    "$venv/bin/uv" "$@"
}

uv_cmd lock --python 3.11 "$@"
export_lock() {  # export_lock OUT [uv export args]
    local out=$1; shift
    uv_cmd export --frozen --no-emit-project --no-dev --format requirements-txt -q -o "$out" "$@"
}
export_lock deploy/requirements.lock --no-extra test
export_lock deploy/requirements-test.lock --extra test
# The build backend: pyproject.toml's [build-system] requires, hashed the same way.
python3 - <<'PY' | uv_cmd pip compile - --universal --python-version 3.11 --generate-hashes --no-header -q \
    -o deploy/requirements-build.lock
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["build-system"]["requires"]))
PY
printf 'lock.sh: wrote uv.lock, deploy/requirements{,-test,-build}.lock\n'
