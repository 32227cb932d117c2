"""The real renderer over the app's real production build: each render shows the state it was
given, and only that one, however many come at once."""

import asyncio
import re
import shutil
import time

import pytest

from reflex_logto.reflex.first_state import first_state
from reflex_logto.reflex.rendering import PageRenderer
from reflex_logto.reflex.state import AuthState
from reflex_logto.sessions.store import Lookup, Session
from tests.support.app_server import ROOT

pytestmark = pytest.mark.browser

# The user card's avatar as rendered: the letter, then the picture's layer if any (after its emotion style).
AVATAR = re.compile(r'<span aria-hidden="true"[^>]*>A(?:<style[^>]*>[^<]*</style>)?(?:<span ([^>]*)></span>)?</span>')


def signed_in_as(name: str, email: str, **more_claims: str) -> dict:
    now = time.time()
    claims = {"sub": f"sub-{name}", "name": name, "email": email, "iss": "https://id.example/oidc", "aud": "app"}
    claims.update(more_claims)
    session = Session(
        key="k", handle="h", sub=claims["sub"], sid=None, claims=claims, refresh_at=None, user_agent="",
        acting_party=None, created_at=now, last_used_at=now, expires_at=now + 3600,
    )
    return first_state(Lookup(session))


@pytest.fixture
async def renderer(app_server):  # app_server: the production build in ROOT/.web is this code's
    renderer = PageRenderer(ROOT / ".web", shutil.which("node"))
    renderer.start()
    assert await renderer.started()
    yield renderer
    await renderer.stop()


async def test_a_render_shows_the_state_it_was_given_then_the_defaults_again(renderer):
    page = (await renderer.render("http://localhost/", signed_in_as("Ada <Lovelace>", "ada@example.com"))).decode()
    assert "Ada &lt;Lovelace&gt;" in page and "ada@example.com" in page  # escaped as React escapes
    assert "https://id.example/oidc" in page  # a claim's row
    assert "You are not signed in." not in page

    page = (await renderer.render("http://localhost/", first_state(Lookup(None)))).decode()
    assert "You are not signed in." in page and "Ada" not in page


async def test_the_user_s_picture_or_else_the_first_letter_of_their_name_is_in_the_html(renderer):
    """So the first frame shows it, scripts or not (Radix's Avatar waits for its script)."""
    picture = "https://id.example/pictures/ada.png"
    page = (await renderer.render("http://localhost/", signed_in_as("Ada", "ada@example.com", picture=picture))).decode()
    avatar = AVATAR.search(page)
    assert avatar and avatar[1], page  # the letter, the picture's layer over it
    assert f'background-image:url("{picture}")' in page

    sneaky = 'https://id.example/a.png"); color: red; background: url("x'  # stays one quoted URL
    page = (await renderer.render("http://localhost/", signed_in_as("Ada", "ada@example.com", picture=sneaky))).decode()
    assert 'background-image:url("https://id.example/a.png\\"); color: red; background: url(\\"x")' in page

    page = (await renderer.render("http://localhost/", signed_in_as("ada", "ada@example.com"))).decode()
    avatar = AVATAR.search(page)
    assert avatar and not avatar[1]  # the letter alone


async def test_renders_at_once_each_show_their_own_user(renderer):
    users = [(f"User {n}", f"user{n}@example.com") for n in range(6)]
    pages = await asyncio.gather(*(renderer.render("http://localhost/", signed_in_as(*user)) for user in users))
    for (name, email), page in zip(users, pages, strict=True):
        others = [other for other, _ in users if other != name]
        assert email.encode() in page and not any(f">{other}<".encode() in page for other in others)


async def test_a_state_the_build_does_not_have_is_not_rendered_and_leaves_nothing_behind(renderer):
    state = {**signed_in_as("Ada", "ada@example.com"), f"{AuthState.get_full_name()}.not_in_this_build": {"x_rx_state_": 1}}
    assert await renderer.render("http://localhost/", state) is None
    page = await renderer.render("http://localhost/", {})  # still rendering, with the defaults
    assert page is not None and b"Ada" not in page and b"ada@example.com" not in page
