"""`python -m reflex_logto secret` and `check`, run as the user would, against the development provider."""

import os
import re
import socket
import subprocess
import sys

# The settings that decide which provider `check` talks to: the test gives its own.
PROVIDER_SETTINGS = ("LOGTO_ENDPOINT", "OIDC_ISSUER", "LOGTO_APP_ID", "LOGTO_APP_SECRET", "LOGTO_BASE_URL")


def run(tmp_path, *args, **settings):
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_SETTINGS}
    env.update(settings, LOGTO_ENV_FILE="/nonexistent/.env")
    return subprocess.run(
        [sys.executable, "-m", "reflex_logto", *args],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )


def failures(result):
    return [line for line in result.stdout.splitlines() if line.startswith("FAIL")]


def test_secret_prints_a_fresh_url_safe_secret(tmp_path):
    first, second = run(tmp_path, "secret"), run(tmp_path, "secret")
    assert first.returncode == second.returncode == 0
    assert first.stderr == ""
    assert re.fullmatch(r"[A-Za-z0-9_-]{64,}\n", first.stdout)
    assert first.stdout != second.stdout


def test_check_passes_for_a_registered_app(tmp_path, registered_app):
    result = run(tmp_path, "check", **registered_app)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"ok   discovery: issuer {registered_app['LOGTO_ENDPOINT']}/oidc" in lines
    assert "ok   keys: 1 signing key (ES384)" in lines
    assert "ok   client: the provider accepts LOGTO_APP_ID and LOGTO_APP_SECRET" in lines
    assert "http://localhost:3999/callback" in result.stdout
    assert "http://localhost:3999/\n" in result.stdout
    for secret in (registered_app["LOGTO_APP_SECRET"], registered_app["LOGTO_COOKIE_SECRET"]):
        assert secret not in result.stdout + result.stderr


def test_check_names_a_wrong_app_secret(tmp_path, registered_app):
    result = run(tmp_path, "check", **{**registered_app, "LOGTO_APP_SECRET": "wrong-" + "x" * 30})
    assert result.returncode == 1
    assert "ok   discovery" in result.stdout
    [failure] = failures(result)
    assert failure.startswith("FAIL client:") and "LOGTO_APP_SECRET" in failure
    assert "wrong-" not in result.stdout + result.stderr


def test_check_names_an_endpoint_ending_in_oidc(tmp_path, registered_app):
    endpoint = registered_app["LOGTO_ENDPOINT"] + "/oidc"
    result = run(tmp_path, "check", **{**registered_app, "LOGTO_ENDPOINT": endpoint})
    assert result.returncode == 1
    [failure] = failures(result)
    assert failure.startswith("FAIL configuration:") and "LOGTO_ENDPOINT" in failure
    assert "Traceback" not in result.stderr


def test_check_says_in_one_line_that_the_provider_is_unreachable(tmp_path, registered_app):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again once the block ends: nothing listens there
    result = run(tmp_path, "check", **{**registered_app, "LOGTO_ENDPOINT": f"http://127.0.0.1:{port}"})
    assert result.returncode == 1
    [failure] = failures(result)
    assert failure.startswith("FAIL discovery:") and f"127.0.0.1:{port}" in failure
    assert "Traceback" not in result.stdout + result.stderr


def test_check_with_nothing_configured_points_at_the_development_provider(tmp_path):
    result = run(tmp_path, "check")
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 1
    assert "LOGTO_ENDPOINT" in result.stdout and "development provider" in result.stdout
    assert "Traceback" not in result.stderr
