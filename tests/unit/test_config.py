import pytest

from reflex_logto.config import DEFAULT_SCOPES, AuthConfig, Secret
from reflex_logto.errors import ConfigurationError

VALID = {
    "LOGTO_ENDPOINT": "https://tenant.logto.app",
    "LOGTO_APP_ID": "app-id",
    "LOGTO_APP_SECRET": "app-secret",
    "LOGTO_BASE_URL": "https://app.example.com/",
    "LOGTO_COOKIE_SECRET": "c" * 32,
}


def config(**changes: str | None) -> AuthConfig:
    env = {**VALID, **changes}
    return AuthConfig.from_env({k: v for k, v in env.items() if v is not None})


def test_logto_endpoint_gives_issuer_and_app_urls():
    cfg = config()
    assert cfg.issuer == "https://tenant.logto.app/oidc"
    assert cfg.discovery_url == "https://tenant.logto.app/oidc/.well-known/openid-configuration"
    assert cfg.redirect_uri == "https://app.example.com/callback"
    assert cfg.post_logout_redirect_uri == "https://app.example.com/"
    assert cfg.scopes == DEFAULT_SCOPES == ("openid", "offline_access", "profile", "email")
    assert cfg.secure_cookies is True
    assert cfg.debug is False


def test_oidc_issuer_is_used_as_given():
    cfg = config(LOGTO_ENDPOINT=None, OIDC_ISSUER="https://accounts.example.org/")
    assert cfg.issuer == "https://accounts.example.org"


def test_both_provider_settings_are_refused():
    with pytest.raises(ConfigurationError, match="LOGTO_ENDPOINT and OIDC_ISSUER"):
        config(OIDC_ISSUER="https://accounts.example.org")


@pytest.mark.parametrize("name", ["LOGTO_APP_ID", "LOGTO_APP_SECRET", "LOGTO_BASE_URL", "LOGTO_COOKIE_SECRET"])
def test_missing_setting_is_named(name):
    with pytest.raises(ConfigurationError, match=f"^{name} is not set"):
        config(**{name: None})


def test_missing_provider_is_named():
    with pytest.raises(ConfigurationError, match="^LOGTO_ENDPOINT is not set"):
        config(LOGTO_ENDPOINT=None)


def test_short_cookie_secret_is_refused():
    with pytest.raises(ConfigurationError, match="LOGTO_COOKIE_SECRET must be at least 32 characters long \\(it has 31\\)"):
        config(LOGTO_COOKIE_SECRET="x" * 31)


@pytest.mark.parametrize("endpoint", ["tenant.logto.app", "ftp://tenant.logto.app", "https://", "https://x.app?a=1"])
def test_malformed_endpoint_is_refused(endpoint):
    with pytest.raises(ConfigurationError, match="^LOGTO_ENDPOINT must"):
        config(LOGTO_ENDPOINT=endpoint)


def test_plain_http_only_for_loopback():
    assert config(LOGTO_ENDPOINT="http://localhost:3001").issuer == "http://localhost:3001/oidc"
    assert config(LOGTO_ENDPOINT="http://127.0.0.1:3001").issuer == "http://127.0.0.1:3001/oidc"
    with pytest.raises(ConfigurationError, match="must use https://"):
        config(LOGTO_ENDPOINT="http://logto.example.com")


def test_malformed_base_url_is_refused():
    with pytest.raises(ConfigurationError, match="^LOGTO_BASE_URL must be the app's absolute URL"):
        config(LOGTO_BASE_URL="localhost:3000")


def test_scopes_are_configurable_and_always_include_openid():
    assert config(LOGTO_SCOPES="email, profile email").scopes == ("openid", "email", "profile")
    assert config(LOGTO_SCOPES="openid roles").scopes == ("openid", "roles")


def test_debug_flag():
    assert config(LOGTO_DEBUG="true").debug is True
    with pytest.raises(ConfigurationError, match="^LOGTO_DEBUG must be true or false"):
        config(LOGTO_DEBUG="maybe")


def test_secrets_do_not_show_in_repr():
    cfg = config()
    assert "app-secret" not in repr(cfg)
    assert "c" * 32 not in repr(cfg)
    assert cfg.client_secret.reveal() == "app-secret"
    assert repr(Secret("x")) == "Secret('**********')"


def test_env_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    from reflex_logto.config import read_environ

    env_file = tmp_path / ".env"
    env_file.write_text("LOGTO_APP_ID=from-file\nLOGTO_APP_SECRET=file-secret\n")
    monkeypatch.setenv("LOGTO_APP_ID", "from-environment")
    monkeypatch.delenv("LOGTO_APP_SECRET", raising=False)
    monkeypatch.setenv("LOGTO_ENV_FILE", str(env_file))
    values = read_environ()
    assert values["LOGTO_APP_ID"] == "from-environment"
    assert values["LOGTO_APP_SECRET"] == "file-secret"


def test_session_lifetimes_default_and_parse():
    cfg = config()
    assert (cfg.session_max_age, cfg.session_idle_timeout) == (14 * 86400, 86400)
    cfg = config(LOGTO_SESSION_MAX_AGE="7d", LOGTO_SESSION_IDLE_TIMEOUT="90")
    assert (cfg.session_max_age, cfg.session_idle_timeout) == (7 * 86400, 90)
    assert config(LOGTO_SESSION_IDLE_TIMEOUT="30m").session_idle_timeout == 1800
    with pytest.raises(ConfigurationError, match="^LOGTO_SESSION_IDLE_TIMEOUT must be a positive duration"):
        config(LOGTO_SESSION_IDLE_TIMEOUT="soon")


def test_previous_cookie_secrets():
    cfg = config(LOGTO_COOKIE_SECRET_PREVIOUS=f"{'a' * 32}, {'b' * 40}")
    assert [s.reveal() for s in cfg.previous_cookie_secrets] == ["a" * 32, "b" * 40]
    with pytest.raises(ConfigurationError, match="^LOGTO_COOKIE_SECRET_PREVIOUS must be at least 32"):
        config(LOGTO_COOKIE_SECRET_PREVIOUS="short")


def test_base_url_over_plain_http_only_on_this_machine():
    assert config(LOGTO_BASE_URL="http://localhost:3000").origin == "http://localhost:3000"
    assert config(LOGTO_BASE_URL="https://app.example.com/").origin == "https://app.example.com"
    with pytest.raises(ConfigurationError, match="^LOGTO_BASE_URL must use https://"):
        config(LOGTO_BASE_URL="http://app.example.com")


def test_cookie_name_and_domain():
    from reflex_logto.reflex.cookies import CookiePolicy

    default = CookiePolicy.from_config(config())
    assert (default.session_name, default.binding_name, default.domain) == ("__Host-logto_session", "__Host-logto_signin", None)
    shared = CookiePolicy.from_config(config(LOGTO_COOKIE_NAME="acme_session", LOGTO_COOKIE_DOMAIN=".example.com"))
    assert (shared.session_name, shared.binding_name, shared.domain) == ("__Secure-acme_session", "__Host-acme_signin", "example.com")
    local = CookiePolicy.from_config(config(LOGTO_BASE_URL="http://localhost:3000", LOGTO_COOKIE_NAME="dev"))
    assert (local.session_name, local.binding_name, local.secure) == ("dev", "dev_signin", False)
    with pytest.raises(ConfigurationError, match="^LOGTO_COOKIE_DOMAIN must be the app's host or a parent domain"):
        config(LOGTO_COOKIE_DOMAIN="evil.example")
    with pytest.raises(ConfigurationError, match="^LOGTO_COOKIE_NAME must be a plain cookie name"):
        config(LOGTO_COOKIE_NAME="__Host-x")
    with pytest.raises(ConfigurationError, match="^LOGTO_COOKIE_NAME"):
        config(LOGTO_COOKIE_NAME="a b;c")


def test_shared_cookie_carries_its_domain_and_clears_with_it():
    from starlette.responses import Response

    from reflex_logto.reflex.cookies import CookiePolicy

    policy = CookiePolicy.from_config(config(LOGTO_COOKIE_DOMAIN="example.com", LOGTO_BASE_URL="https://app.example.com"))
    response = Response()
    policy.set_session(response, "id", max_age=60)
    policy.clear_session(response)
    policy.set_binding(response, "b")
    set_cookies = response.headers.getlist("set-cookie")
    assert set_cookies[0] == "__Secure-logto_session=id; Domain=example.com; HttpOnly; Max-Age=60; Path=/; SameSite=lax; Secure"
    assert set_cookies[1].startswith("__Secure-logto_session=\"\"; Domain=example.com;") and "Max-Age=0" in set_cookies[1]
    assert "Domain" not in set_cookies[2]


def test_cookie_domain_needs_a_domain_name():
    with pytest.raises(ConfigurationError, match="not an IP address"):
        config(LOGTO_BASE_URL="http://127.0.0.1:3000", LOGTO_COOKIE_DOMAIN="0.0.1")


def test_account_url():
    assert config().account_url is None
    assert config(LOGTO_ACCOUNT_URL="https://tenant.logto.app/account").account_url == "https://tenant.logto.app/account"
    with pytest.raises(ConfigurationError, match="^LOGTO_ACCOUNT_URL must use https://"):
        config(LOGTO_ACCOUNT_URL="http://account.example.com")


def test_resources_are_apis_not_organizations():
    assert config(LOGTO_RESOURCES="https://api.example.com, urn:acme:reports").resources == ("https://api.example.com", "urn:acme:reports")
    with pytest.raises(ConfigurationError, match="organization tokens"):
        config(LOGTO_RESOURCES="urn:logto:organization:org-acme")


def test_session_store_is_sqlite_unless_a_url_is_given():
    assert config().session_db_url is None
    assert config(REFLEX_REDIS_URL="redis://cache:6379/0").session_db_url.reveal() == "redis://cache:6379/0"
    both = config(REFLEX_REDIS_URL="redis://cache:6379/0", LOGTO_SESSION_DB_URL="rediss://:pw@sessions:6380/2")
    assert both.session_db_url.reveal() == "rediss://:pw@sessions:6380/2"  # its own store wins
    assert "pw" not in repr(both)


@pytest.mark.parametrize("name", ["LOGTO_SESSION_DB_URL", "REFLEX_REDIS_URL"])
def test_a_session_store_url_that_is_neither_redis_nor_postgresql_is_named(name):
    with pytest.raises(ConfigurationError, match=f"{name} must be a redis://"):
        config(**{name: "mysql://db/sessions"})


def test_redis_for_reflex_state_must_be_redis():
    with pytest.raises(ConfigurationError, match="REFLEX_REDIS_URL must be a redis://"):
        config(REFLEX_REDIS_URL="postgresql://db/sessions")


@pytest.mark.parametrize("url", ["postgresql://app:pw@db:5432/app", "postgres://app:pw@db/app",
                                 "postgresql+asyncpg://app:pw@db/app", "postgresql+psycopg2://app:pw@db/app"])
def test_sessions_in_postgresql_by_url(url):
    chosen = config(LOGTO_SESSION_DB_URL=url, REFLEX_REDIS_URL="redis://cache:6379/0")  # its own store wins
    assert chosen.session_db_url.reveal() == "postgresql://" + url.split("://", 1)[1]  # as asyncpg takes it
    assert "pw" not in repr(chosen)


def test_sessions_in_reflex_own_database_when_the_app_says_so(monkeypatch):
    import reflex.config

    assert config(LOGTO_SESSION_DB_URL="reflex", REFLEX_DB_URL="postgresql+psycopg://app:pw@db/app").session_db_url.reveal() == (
        "postgresql://app:pw@db/app"
    )
    # Without REFLEX_DB_URL, rxconfig.py's db_url.
    monkeypatch.setattr(reflex.config.get_config(), "db_url", "postgresql://app:pw@rx-db/app")
    assert config(LOGTO_SESSION_DB_URL="reflex").session_db_url.reveal() == "postgresql://app:pw@rx-db/app"
    # SQLite there (Reflex's default, as in development): as if unset, the package's own SQLite file, or
    # the Redis of Reflex's state when there is one.
    monkeypatch.setattr(reflex.config.get_config(), "db_url", "sqlite:///reflex.db")
    assert config(LOGTO_SESSION_DB_URL="reflex").session_db_url is None
    assert config(LOGTO_SESSION_DB_URL="reflex", REFLEX_REDIS_URL="redis://cache/0").session_db_url.reveal() == "redis://cache/0"
    with pytest.raises(ConfigurationError, match="must then be PostgreSQL or SQLite, not mysql$") as refused:
        config(LOGTO_SESSION_DB_URL="reflex", REFLEX_DB_URL="mysql://app:secret-pw@db/app")
    assert "secret-pw" not in str(refused.value)
