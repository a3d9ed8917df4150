"""The dependency lock: it covers pyproject.toml, every pin is hashed, and dev.sh and the image install from it."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.tools import DEPLOY, ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(\s*;\s*([^\\]+?))?\s*\\?$")


def pins(path) -> dict[str, str]:
    """name -> version of a hashed requirements file; fails on a requirement without a hash."""
    found: dict[str, str] = {}
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        m = PIN.match(line)
        if not m:
            assert not line or line.startswith(("#", " ")), f"{path.name}:{i + 1}: not a pinned requirement: {line!r}"
            continue
        assert i + 1 < len(lines) and lines[i + 1].strip().startswith("--hash=sha256:"), \
            f"{path.name}:{i + 1}: {m[1]} has no --hash"
        found[canonicalize_name(m[1])] = m[2]
    return found


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_runtime_lock_pins_every_runtime_dependency_and_nothing_of_the_test_extra():
    runtime = pins(DEPLOY / "requirements.lock")
    project = pyproject()["project"]
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in runtime, f"{req.name} is in pyproject.toml but not in the lock: run bash deploy/lock.sh"
        assert req.specifier.contains(runtime[name], prereleases=True), \
            f"the lock pins {req.name}=={runtime[name]}, outside pyproject.toml's {req.specifier}"
    for spec in ("pytest", "hypothesis", "playwright", "schemathesis"):
        assert spec not in runtime, f"{spec} (test extra) must stay out of the image's lock"


def test_the_test_lock_pins_the_test_extra_at_the_same_versions_as_the_runtime_lock():
    runtime = pins(DEPLOY / "requirements.lock")
    full = pins(DEPLOY / "requirements-test.lock")
    for spec in pyproject()["project"]["optional-dependencies"]["test"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in full, f"{req.name} (test extra) is not in requirements-test.lock: run bash deploy/lock.sh"
        assert req.specifier.contains(full[name], prereleases=True)
    assert {n: v for n, v in full.items() if n in runtime} == runtime, "one resolution: the same pins in both files"


def test_the_exports_agree_with_uv_lock():
    locked = {canonicalize_name(p["name"]): p["version"]
              for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    for name, version in pins(DEPLOY / "requirements-test.lock").items():
        assert locked.get(name) == version, f"{name}: uv.lock has {locked.get(name)}, the export {version}"


def test_the_build_backend_is_locked_and_satisfies_build_system_requires():
    build = pins(DEPLOY / "requirements-build.lock")
    for spec in pyproject()["build-system"]["requires"]:
        req = Requirement(spec)
        assert req.specifier.contains(build[canonicalize_name(req.name)])


def test_dev_sh_installs_from_the_lock_with_hashes_and_reinstalls_when_it_changes():
    script = (DEPLOY / "dev.sh").read_text()
    assert "LOCKS=(deploy/requirements-build.lock deploy/requirements-test.lock)" in script
    assert "--require-hashes" in script
    assert "--no-deps --no-build-isolation -e ." in script
    assert re.search(r'cat pyproject\.toml "\$\{LOCKS\[@\]\}" \| sha256sum', script), "the stamp hashes the lock"
    assert "pip install -q -e '.[test]'" not in script, "no unpinned resolution left"
