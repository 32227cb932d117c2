import pytest

from reflex_logto.sessions.return_paths import safe_return_path


@pytest.mark.parametrize(
    "path",
    ["/", "/profile", "/orders/42?tab=items&x=1", "/a/b/c"],
)
def test_same_origin_paths_are_kept(path):
    assert safe_return_path(path) == path


@pytest.mark.parametrize(
    "candidate",
    [
        None,
        "",
        42,
        "profile",
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2F%2Fevil.example",
        "/%2fevil.example",
        "/%5Cevil.example",
        "/\t/evil.example",
        "/\r\n/evil.example",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/" + "a" * 5000,
    ],
)
def test_anything_else_becomes_home(candidate):
    assert safe_return_path(candidate) == "/"


def test_fragment_is_dropped():
    assert safe_return_path("/page#section") == "/page"
