"""The development provider's launcher: what a machine without Node.js, or a bad setup, gets."""

from __future__ import annotations

import pytest

from reflex_logto.devprovider.launcher import DevProviderError, install, runtime_dir
from reflex_logto.errors import ConfigurationError
from reflex_logto.reflex.setup import load_config


def test_no_node_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run there
    with pytest.raises(DevProviderError, match="^Node.js is not on PATH: the development provider needs Node.js 20"):
        install()


def test_an_app_with_no_provider_and_no_node_gets_a_configuration_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("REFLEX_ENV_MODE", "dev")
    env = {"LOGTO_DEV_STATE_DIR": str(tmp_path / "state"), "LOGTO_BASE_URL": "http://localhost:3000"}
    with pytest.raises(ConfigurationError, match="the development provider did not start: Node.js is not on PATH"):
        load_config(env)


def test_no_npm_is_one_clear_line(monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    node = bin_dir / "node"
    node.write_text("#!/bin/sh\nexit 0\n")
    node.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("LOGTO_DEV_PROVIDER_HOME", str(tmp_path / "home"))  # nothing installed there yet
    with pytest.raises(DevProviderError, match="^npm is not on PATH"):
        install()
    assert (tmp_path / "home" / "server.mjs").is_file()  # the scripts are in place for a later install


def test_the_runtime_folder_follows_the_lock_file(monkeypatch, tmp_path):
    monkeypatch.delenv("LOGTO_DEV_PROVIDER_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = runtime_dir()
    assert folder.parent == tmp_path / "reflex-logto" and folder.name.startswith("devprovider-")
