"""The package as a new user gets it: a wheel, installed alone in a clean virtualenv,
running examples/minimal with `reflex run` and nothing configured, in chromium."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from reflex_logto.devprovider.launcher import SCRIPTS
from tests.support.app_server import ROOT, free_port, project_copy

pytestmark = pytest.mark.browser

EXAMPLE = ROOT / "examples" / "minimal"
BUN_BIN = ROOT / "node_modules" / ".bin"
OUTPUT = ROOT / "test-output"
SCREENSHOTS = OUTPUT / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [  # as tests/browser/conftest.py
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
INSTALL_TIMEOUT = 900  # seconds: the wheel's dependencies, from PyPI
START_TIMEOUT = 300  # seconds: dev mode compiles the frontend (and installs its packages) first


def clean_env(path: list[Path]) -> dict[str, str]:
    """This environment without the project's venv or any LOGTO_/OIDC_/REFLEX_ setting
    (the test session sets some), `path` first on PATH."""
    project_bin = str(ROOT / ".venv" / "bin")
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("LOGTO_", "OIDC_", "REFLEX_", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"))
    }
    rest = [entry for entry in env["PATH"].split(os.pathsep) if entry and entry != project_bin]
    env["PATH"] = os.pathsep.join([*map(str, path), *rest])
    return env


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy of the checkout (its tracked and unignored files), so that setuptools'
    # build/ folder neither lands in the checkout nor carries stale files into the wheel.
    source = project_copy(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", str(source), "-w", str(out)],
        check=True, capture_output=True, timeout=300,
    )
    (built,) = out.glob("reflex_logto-*.whl")
    return built


@pytest.fixture(scope="session")
def venv(wheel, tmp_path_factory) -> Path:
    """A virtualenv with the wheel and its dependencies (pinned by the lock) and nothing else."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    log = OUTPUT / "wheel-install.log"
    log.parent.mkdir(exist_ok=True)
    with open(log, "w") as out:
        result = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
             f"{wheel}[redis]", "-c", str(ROOT / "requirements.lock")],
            cwd=venv, env=clean_env([venv / "bin"]), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            timeout=INSTALL_TIMEOUT,
        )
    assert result.returncode == 0, log.read_text()[-3000:]
    return venv


def site_packages(venv: Path) -> Path:
    (path,) = (venv / "lib").glob("python3.*/site-packages")
    return path


def test_the_wheel_holds_the_package_and_its_data_and_nothing_of_the_project(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = {"reflex_logto/py.typed", "reflex_logto/devprovider/users.json",
              "reflex_logto/reflex/service_worker.js", "reflex_logto/reflex/renderer.mjs",
              *(f"reflex_logto/devprovider/{name}" for name in SCRIPTS)}
    assert needed <= names, f"missing from the wheel: {sorted(needed - names)}"
    for name in ("server.mjs", "package.json", "package-lock.json"):
        assert f"reflex_logto/devprovider/{name}" in names
    strays = sorted(n for n in names if not n.startswith(("reflex_logto/", "reflex_logto-")))
    assert strays == [], f"not the package's: {strays}"
    assert not [n for n in names if n.startswith(("app/", "tests/")) or "/app/" in n or "/tests/" in n]


def test_the_example_stays_small():
    lines = sum(len(p.read_text().splitlines()) for p in [*EXAMPLE.glob("*.py"), *EXAMPLE.glob("minimal/*.py")])
    assert lines <= 25  # as the README says


def test_the_clean_venv_runs_the_package_from_the_wheel(venv):
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import json, importlib.metadata as m, reflex, reflex_logto; "
         "d = m.distribution('reflex-logto'); "
         "print(json.dumps([reflex_logto.__file__, reflex.__file__, d.read_text('direct_url.json') or '{}']))"],
        cwd=venv, env=clean_env([venv / "bin"]), capture_output=True, text=True, check=True, timeout=120,
    )
    package, reflex_file, direct_url = json.loads(probe.stdout)
    site = site_packages(venv)
    assert Path(package).is_relative_to(site), package
    assert Path(reflex_file).is_relative_to(site), reflex_file
    assert not json.loads(direct_url).get("dir_info", {}).get("editable"), direct_url
    # No path file pointing back at the checkout (as an editable install would leave).
    for pth in site.glob("*.pth"):
        assert str(ROOT) not in pth.read_text(), pth
    check = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "check"], env=clean_env([venv / "bin"]),
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


def wait_for(process: subprocess.Popen, log: Path, urls: list[str]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        assert process.poll() is None, f"reflex run exited ({process.returncode}):\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"reflex run did not come up in {START_TIMEOUT}s:\n{log.read_text()[-3000:]}"
        try:
            if all(httpx.get(url, timeout=2).status_code == 200 for url in urls):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)


def stop(process: subprocess.Popen) -> None:
    """Ctrl-C for `reflex run` and its process group (bun, the backend), then SIGKILL if need be."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with_group_gone = time.monotonic() + 10
    while time.monotonic() < with_group_gone:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def stop_provider(record: Path) -> int | None:
    """The development provider the app started (in its own session: it follows its owner's
    exit on its own). Returns its PID if it was still running and had to be stopped."""
    if not record.exists():
        return None
    pid = json.loads(record.read_text())["pid"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    return pid


def test_the_minimal_example_signs_in_and_out_from_the_wheel(venv, tmp_path):
    project = tmp_path / "minimal"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".web", ".states", ".reflex-logto", "__pycache__"))
    state_dir = tmp_path / "dev-provider"
    env = clean_env([venv / "bin", BUN_BIN])
    env.update({
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_BUN_PATH": str(BUN_BIN / "bun"),
        "LOGTO_ENV_FILE": "/nonexistent",
        "LOGTO_DEV_STATE_DIR": str(state_dir),
    })
    frontend, backend = free_port(), free_port()
    url = f"http://localhost:{frontend}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log_path = OUTPUT / "example-minimal.log"
    record = state_dir / "provider.json"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(venv / "bin" / "reflex"), "run", "--frontend-port", str(frontend), "--backend-port", str(backend),
             "--backend-host", "127.0.0.1"],
            cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends reflex, bun and the backend
        )
    try:
        wait_for(process, log_path, [url, f"http://127.0.0.1:{backend}/ping"])
        provider = json.loads(record.read_text())
        # The provider runs the wheel's scripts and users, not the checkout's.
        assert Path(provider["users"]).is_relative_to(site_packages(venv)), provider["users"]
        assert "no LOGTO_ENDPOINT set, signing in against the development provider" in log_path.read_text()

        def shot(page, step: str) -> None:
            page.screenshot(path=str(SCREENSHOTS / f"wheel-minimal-{step}.png"), full_page=True)

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                context = browser.new_context(viewport={"width": 1100, "height": 800})
                context.set_default_timeout(30_000)
                page = context.new_page()

                page.goto(f"{url}/secret")  # signed out: straight to the provider's sign-in page
                expect(page.get_by_label("Username")).to_be_visible(timeout=30_000)
                assert page.url.startswith(provider["origin"]), page.url
                shot(page, "provider")
                page.get_by_label("Username").fill("demo")
                page.get_by_label("Password").fill("demo-password")
                page.get_by_role("button", name="Sign in").click()

                expect(page.get_by_role("heading", name="The secret page")).to_be_visible(timeout=30_000)
                assert page.url == f"{url}/secret", page.url
                shot(page, "secret")

                page.goto(url)
                expect(page.get_by_role("heading", name="Demo User", exact=True)).to_be_visible(timeout=30_000)
                expect(page.get_by_text("Signed in as Demo User")).to_be_visible()
                shot(page, "signed-in")

                page.get_by_role("button", name="Sign out").click()
                expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
                expect(page.get_by_text("Demo User")).to_have_count(0)
                assert page.url.rstrip("/") == url, page.url
                shot(page, "signed-out")

                # Hot reload: Reflex replaces its backend worker; the provider (its sessions are in
                # memory) lives as long as `reflex run`, not as long as the worker that started it.
                source = project / "minimal" / "minimal.py"
                source.write_text(source.read_text().replace('"Minimal sign-in"', '"Minimal sign-in (edited)"'))
                expect(page.get_by_role("heading", name="Minimal sign-in (edited)")).to_be_visible(timeout=120_000)

                page.goto(f"{url}/secret")  # signed out: the secret page is not shown, and signing in works
                expect(page.get_by_label("Username")).to_be_visible(timeout=30_000)
                expect(page.get_by_role("heading", name="The secret page")).to_have_count(0)
                page.get_by_label("Username").fill("demo")
                page.get_by_label("Password").fill("demo-password")
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("heading", name="The secret page")).to_be_visible(timeout=30_000)
                assert json.loads(record.read_text())["pid"] == provider["pid"]  # the same provider throughout
            finally:
                browser.close()
    finally:
        stop(process)
        left_running = stop_provider(record)
    assert left_running is None, f"the development provider (PID {left_running}) outlived reflex run"
    output = log_path.read_text()
    assert "Traceback" not in output and "Deprecat" not in output, output[-3000:]
