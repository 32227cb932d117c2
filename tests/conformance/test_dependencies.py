"""The security-critical libraries are at or above the releases that fixed their known advisories."""

from importlib.metadata import version

import pytest

# (package, first fixed release, advisory): the ones known when this list was written.
ADVISORIES = [
    ("authlib", "1.3.1", "CVE-2024-37568: HMAC verification with an asymmetric public key (algorithm confusion)"),
    ("authlib", "1.6.9", "CVE-2026-27962: a JWT's own `jwk` header trusted as its key"),
]


def release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:3])


@pytest.mark.parametrize(("package", "fixed", "advisory"), ADVISORIES, ids=[a[2].split(":")[0] for a in ADVISORIES])
def test_installed_release_has_the_fix(package, fixed, advisory):
    assert release(version(package)) >= release(fixed), advisory


def test_the_lock_file_is_what_is_installed():
    from pathlib import Path

    locked = {
        line.split("==")[0].lower(): line.split("==")[1]
        for line in (Path(__file__).parents[2] / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    for package in ("authlib", "joserfc", "httpx", "cryptography", "reflex", "starlette"):
        assert locked[package] == version(package), package
