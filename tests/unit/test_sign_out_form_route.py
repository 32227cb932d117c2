"""The Sign out button's form route (`POST /auth/sign-out`): a page sends it before its tab can
call the handler, and it ends the session the handler would, for this app's pages only."""

import pytest
from starlette.requests import Request

from reflex_logto.reflex.routes import sign_out_from_page
from tests.support.fake_provider import APP_URL

SIGN_OUT_FAILED = f"{APP_URL}/callback?app_error=sign_out_failed"


async def post(rp, headers: dict[str, str]):
    """The form's POST as a browser holding the session cookie sends it."""
    return await rp.browser.post("/auth/sign-out", headers=headers)


async def signed_in(rp) -> str:
    await rp.sign_in()
    return rp.browser.cookies["__Host-logto_session"]


async def session_alive(rp, session_id: str) -> bool:
    return (await rp.flow.sessions.lookup(session_id)).session is not None


@pytest.mark.parametrize(
    ("headers", "signs_out"),
    [
        ({"origin": APP_URL}, True),
        ({"origin": APP_URL.upper()}, True),  # an origin's scheme and host have no case
        # A page whose referrer policy is no-referrer (the callback page's, kept as the tab
        # moves on in place) sends `Origin: null`; its Fetch Metadata says it is the app's.
        ({"origin": "null", "sec-fetch-site": "same-origin"}, True),
        ({"origin": "null"}, False),
        ({"origin": "null", "sec-fetch-site": "same-site"}, False),
        ({"origin": "null", "sec-fetch-site": "cross-site"}, False),
        ({"origin": "https://evil.example", "sec-fetch-site": "same-origin"}, False),  # the Origin says otherwise
        ({"origin": "https://blog.app.example", "sec-fetch-site": "same-site"}, False),  # a sibling of the site
        ({}, False),
    ],
)
async def test_only_a_page_of_this_app_signs_out(rp, headers, signs_out):
    session_id = await signed_in(rp)
    response = await post(rp, headers)
    assert response.status_code == 303 and response.headers["cache-control"] == "no-store"
    if signs_out:
        assert response.headers["location"].startswith(f"{rp.op.issuer}/session/end?")
        assert "__Host-logto_session" not in rp.browser.cookies
        assert not await session_alive(rp, session_id)
    else:
        # Nothing changes, and the page says signing out did not finish.
        assert response.headers["location"] == SIGN_OUT_FAILED and "set-cookie" not in response.headers
        assert await session_alive(rp, session_id)


async def test_without_a_session_the_browser_goes_home_with_its_cookies_cleared(rp):
    rp.browser.cookies.set("__Host-logto_session", "x" * 43)  # unknown here: ended, forged
    response = await post(rp, {"origin": APP_URL})
    assert response.status_code == 303 and response.headers["location"] == f"{APP_URL}/"
    cleared = [c for c in response.headers.get_list("set-cookie") if c.startswith("__Host-logto_session=")]
    assert len(cleared) == 1 and "Max-Age=0" in cleared[0]
    assert rp.op.count("/token/revocation") == 0


async def test_the_hook_and_the_revocation_run_once_the_answer_has_gone(rp):
    await signed_in(rp)
    request = Request(
        {
            "type": "http", "method": "POST", "path": "/auth/sign-out", "query_string": b"", "scheme": "https",
            "server": ("app.example", 443),
            "headers": [(b"origin", APP_URL.encode()), (b"cookie", rp.cookie_header().encode())],
        }
    )
    response = await sign_out_from_page(request)
    assert response.status_code == 303 and response.background is not None
    assert rp.op.count("/token/revocation") == 0  # not before the answer
    await response.background()
    assert rp.op.count("/token/revocation") == 1


async def test_a_broken_store_says_signing_out_did_not_finish(rp):
    await signed_in(rp)
    rp.flow.storage.connection.close()  # the session can't be ended: the cookie stays
    response = await post(rp, {"origin": APP_URL})
    assert response.status_code == 303 and response.headers["location"] == SIGN_OUT_FAILED
    assert "set-cookie" not in response.headers
