"""Out of the box: `reflex run` with nothing configured, in a fresh copy of the project."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.app_server import ROOT, free_port, project_copy

pytestmark = pytest.mark.browser

START_TIMEOUT = 300  # seconds


def unconfigured_env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGTO_", "OIDC_", "REFLEX_"))}
    env["PATH"] = f"{project / 'node_modules' / '.bin'}:{project / '.venv' / 'bin'}:{env['PATH']}"
    env["REFLEX_TELEMETRY_ENABLED"] = "false"
    return env


@pytest.fixture(scope="module")
def dev_app(tmp_path_factory):
    project = project_copy(tmp_path_factory.mktemp("project"))
    frontend, backend = free_port(), free_port()
    (ROOT / "test-output").mkdir(exist_ok=True)
    log = open(ROOT / "test-output" / "app-dev.log", "w")
    process = subprocess.Popen(
        ["reflex", "run", "--frontend-port", str(frontend), "--backend-port", str(backend), "--backend-host", "127.0.0.1"],
        cwd=project, env=unconfigured_env(project), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{frontend}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            assert process.poll() is None, (ROOT / "test-output" / "app-dev.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "reflex run did not come up"
            try:
                if httpx.get(url, timeout=2).status_code == 200 and httpx.get(f"http://127.0.0.1:{backend}/ping", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield {"url": url, "project": project, "process": process}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_unconfigured_dev_mode_signs_in_against_the_development_provider(dev_app, context, screenshot):
    page = context.new_page()
    page.goto(dev_app["url"])
    page.get_by_role("button", name="Sign in").click()
    # The provider's page shows the demo account; sign in with exactly what it shows.
    hint = page.locator(".demo code")
    expect(hint.first).to_be_visible()
    username, password = hint.nth(0).inner_text(), hint.nth(1).inner_text()
    screenshot(page, "provider")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    screenshot(page, "signed-in")

    # Hot reload: edit a page while signed in; it reloads, still signed in.
    home = dev_app["project"] / "app" / "pages" / "home.py"
    home.write_text(home.read_text().replace('"ID token claims"', '"ID token claims (edited)"'))
    expect(page.get_by_role("heading", name="ID token claims (edited)")).to_be_visible(timeout=120_000)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    page.reload()
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    screenshot(page, "after-hot-reload")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are not signed in.")).to_be_visible()


def test_development_provider_stops_with_reflex(dev_app):
    record = dev_app["project"] / ".reflex-logto" / "dev-provider" / "provider.json"
    provider_pid = json.loads(record.read_text())["pid"]
    os.kill(provider_pid, 0)  # running while reflex runs
    os.killpg(dev_app["process"].pid, signal.SIGINT)
    dev_app["process"].wait(30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(provider_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    pytest.fail("the development provider outlived reflex run")


def test_production_refuses_to_start_without_a_provider(tmp_path):
    project = project_copy(tmp_path)
    port = free_port()
    result = subprocess.run(
        ["reflex", "run", "--env", "prod", "--frontend-port", str(port), "--backend-port", str(port), "--backend-host", "127.0.0.1"],
        cwd=project, env=unconfigured_env(project), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "reflex-logto: LOGTO_ENDPOINT is not set: production needs a real provider" in output
    assert "Traceback" not in output
    assert not (project / ".reflex-logto" / "dev-provider").exists()
