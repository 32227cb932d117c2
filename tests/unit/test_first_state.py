"""A page a browser navigates to carries the tab's first AuthState: the claims of the session its
cookie names (never a token), or signed out; in a script nothing in a claim can break out of;
kept by no cache when it holds a user; not at all where the page would flash "signed out"
before sending the visitor to sign in, nor while the store doesn't answer."""

import gzip
import json
import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from reflex_logto.config import Secret
from reflex_logto.reflex.first_state import ELEMENT_ID, carry_first_state, first_state, state_block, with_first_state
from reflex_logto.reflex.state import AuthState
from reflex_logto.sessions.store import Lookup
from tests.support.app_server import free_port
from tests.support.fake_provider import APP_URL, FakeProvider
from tests.support.relying_party import RelyingParty

PAGE = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Loading</p></body></html>"
AUTH = AuthState.get_full_name()
BLOCK = re.compile(rb'<script type="application/json" id="__reflex_logto_first_state">(.*?)</script>')
NAVIGATION = {"sec-fetch-dest": "document"}

seen_requests: list[dict[str, str]] = []


def page(request):
    """As Reflex's static files serve a built page: validators, ranges, a compressed variant."""
    seen_requests.append(dict(request.headers))
    if request.headers.get("if-none-match") == '"1"':
        return Response(status_code=304, headers={"ETag": '"1"'})
    headers = {"ETag": '"1"', "Last-Modified": "Mon, 01 Dec 2026 00:00:00 GMT", "Accept-Ranges": "bytes"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return HTMLResponse(gzip.compress(PAGE), headers={**headers, "Content-Encoding": "gzip"})
    return HTMLResponse(PAGE, headers=headers)


def in_chunks(request):
    """A page whose body comes in several messages."""
    return StreamingResponse(iter([PAGE[:20], PAGE[20:50], PAGE[50:]]), media_type="text/html")


async def app_own_html(request):
    return HTMLResponse("<html><head></head><body>an app route's own HTML</body></html>")


def app() -> Starlette:
    return carry_first_state(
        is_page=lambda path: not path.startswith(("/missing", "/report")),
        signs_in_on_load=lambda path: path.startswith("/private"),
        own_routes=("/auth", "/callback"),
    )(
        Starlette(
            routes=[
                Route("/missing", lambda request: HTMLResponse("gone", status_code=404)),
                Route("/report", app_own_html),
                Route("/chunks", in_chunks),
                Route("/{path:path}", page, methods=["GET", "HEAD"]),
            ]
        )
    )


async def get(path: str, cookie: str = "", method: str = "GET", **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url=APP_URL) as client:
        return await client.request(method, path, headers={**({"cookie": cookie} if cookie else {}), **headers})


def carried(response: httpx.Response) -> dict | None:
    found = BLOCK.search(response.content)
    return json.loads(found.group(1)) if found else None


@pytest.fixture
async def signed_in(rp):
    """Signed in; `rp.issued` holds every token value the provider gave."""
    rp.issued = []
    answer = rp.op.token_response

    def recorded(request):
        response = answer(request)
        rp.issued += [v for k, v in response.json().items() if k.endswith("_token")]
        return response

    rp.op.token_response = recorded
    await rp.sign_in()
    return rp


async def test_a_page_carries_the_claims_of_the_session_its_cookie_names(signed_in):
    response = await get("/", signed_in.cookie_header(), **NAVIGATION, **{"accept-encoding": "gzip", "if-none-match": '"1"'})

    state = carried(response)["state"][AUTH]
    assert state["loaded_rx_state_"] is True and state["signed_in_rx_state_"] is True
    assert state["user_sub_rx_state_"] == "user-1"
    assert {row["key"] for row in state["claims_rx_state_"]} >= {"sub", "iss", "aud"}
    # Whole and fresh: no 304, no compressed file, no validators of the file left.
    assert response.status_code == 200 and int(response.headers["content-length"]) == len(response.content)
    assert response.content.startswith(PAGE[: PAGE.find(b"</head>")]) and response.content.endswith(PAGE[PAGE.find(b"</head>"):])
    assert not {"etag", "last-modified", "content-encoding", "accept-ranges"} & set(response.headers)
    assert not {"accept-encoding", "if-none-match"} & set(seen_requests[-1])
    # A signed-in user's claims are kept by no cache, shared or not.
    assert response.headers["cache-control"] == "private, no-store"


async def test_no_token_rides_with_the_page(signed_in):
    response = await get("/", signed_in.cookie_header(), **NAVIGATION)
    body = response.text
    assert carried(response) is not None and len(signed_in.issued) == 3  # access, refresh, ID
    for token in signed_in.issued:
        assert token not in body
    assert signed_in.flow.cookies.session(signed_in.cookie_header()) not in body  # nor the session id


async def test_without_a_session_a_public_page_carries_signed_out(rp):
    response = await get("/", **NAVIGATION)
    state = carried(response)["state"][AUTH]
    assert state["loaded_rx_state_"] is True and state["signed_in_rx_state_"] is False
    assert state["claims_rx_state_"] == [] and state["user_name_rx_state_"] == ""
    # Not kept either: the back button would show a stale "signed out" to a signed-in tab.
    assert response.headers["cache-control"] == "private, no-store"


async def test_a_page_sent_in_several_messages_carries_it_whole(signed_in):
    response = await get("/chunks", signed_in.cookie_header(), **NAVIGATION)
    assert BLOCK.sub(b"", response.content) == PAGE and carried(response)["state"][AUTH]["signed_in_rx_state_"]
    assert int(response.headers["content-length"]) == len(response.content)


async def test_the_page_is_read_as_bytes_not_sent_by_path(signed_in):
    """Granian's `pathsend` would send the file itself, around the rewriting."""
    seen = {}

    async def file_server(scope, receive, send):
        seen.update(scope.get("extensions", {}))
        await HTMLResponse(PAGE)(scope, receive, send)

    wrapped = carry_first_state(lambda path: True, lambda path: False)(file_server)
    scope = {
        "type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
        "scheme": "https", "server": ("app.example", 443), "http_version": "1.1",
        "headers": [(b"sec-fetch-dest", b"document"), (b"cookie", signed_in.cookie_header().encode())],
        "extensions": {"http.response.pathsend": {}, "other": {}},
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        sent.append(message)

    await wrapped(scope, receive, send)
    assert seen == {"other": {}} and BLOCK.search(sent[-1]["body"])


async def test_a_session_that_ended_says_why(signed_in):
    cookie = signed_in.cookie_header()
    session = (await signed_in.flow.sessions.lookup(signed_in.flow.cookies.session(cookie))).session
    await signed_in.flow.sessions.end(session.key, "revoked")
    state = carried(await get("/", cookie, **NAVIGATION))["state"][AUTH]
    assert state["signed_in_rx_state_"] is False and state["notice_rx_state_"] == "revoked"
    assert state["notice_message_rx_state_"]  # the sentence, as the hydrate would bring it


async def test_a_page_that_sends_a_signed_out_visitor_to_sign_in_carries_nothing_for_them(signed_in):
    # "Signed out" for a moment, then off to the provider: the page keeps its spinner instead.
    assert carried(await get("/private/reports", **NAVIGATION)) is None
    assert carried(await get("/private/reports", signed_in.cookie_header(), **NAVIGATION)) is not None


@pytest.mark.parametrize(
    ("path", "method", "headers"),
    [
        ("/", "GET", {}),  # not a navigation: a fetch, a prefetch, an old browser
        ("/", "GET", {"sec-fetch-dest": "iframe"}),
        ("/", "HEAD", NAVIGATION),
        ("/auth/signed-out", "GET", NAVIGATION),  # the routes answer for themselves
        ("/callback", "GET", NAVIGATION),
        ("/assets/app-0123abcd.js", "GET", NAVIGATION),
        ("/report", "GET", NAVIGATION),  # an app route's own HTML, not a Reflex page
    ],
)
async def test_only_page_navigations_carry_it(signed_in, path, method, headers):
    response = await get(path, signed_in.cookie_header(), method, **headers)
    assert carried(response) is None and ELEMENT_ID.encode() not in response.content
    assert response.headers.get("etag") == '"1"' or path == "/report"  # the file as served


async def test_a_page_that_is_not_found_is_left_as_it_is(signed_in):
    response = await get("/missing", signed_in.cookie_header(), **NAVIGATION)
    assert response.status_code == 404 and response.text == "gone"


async def test_while_the_store_does_not_answer_the_page_waits_for_its_websocket(tmp_path):
    party = RelyingParty(FakeProvider(), str(tmp_path / "unused.sqlite3"),
                         session_db_url=Secret(f"redis://127.0.0.1:{free_port()}/0"))
    try:
        response = await get("/", f"__Host-logto_session={'s' * 43}", **NAVIGATION)
    finally:
        await party.close()
    assert response.status_code == 200 and response.content == PAGE and carried(response) is None


@pytest.mark.parametrize(
    "name",
    ["</script><script>alert(1)</script>", "<!--<script>", "a\u2028b\u2029c", "&lt;\"'\\", "\x00\x1f"],
)
def test_no_claim_value_can_end_the_block(name):
    state = {AUTH: {"user_name_rx_state_": name}}
    for block, carried_as in [(state_block(state), {"state": state}),
                              (state_block(state, go=f"/orders/{name}"), {"state": state, "go": f"/orders/{name}"})]:
        inner = BLOCK.search(block).group(1)
        assert b"<" not in inner and b">" not in inner and b"&" not in inner
        assert all(byte < 0x80 for byte in block)  # no raw line separators either
        assert json.loads(inner) == carried_as


def test_the_block_goes_at_the_end_of_the_head_and_a_page_without_one_is_left_alone():
    state = {AUTH: {"loaded_rx_state_": True}}
    page_with = with_first_state(PAGE, state)
    assert page_with.index(b'<script type="application/json"') == PAGE.index(b"</head>")
    assert with_first_state(b"<p>no head</p>", state) == b"<p>no head</p>"


def test_the_first_state_is_what_the_hydrate_shows():
    signed_out = first_state(Lookup(None, "idle"))[AUTH]
    assert signed_out["loaded_rx_state_"] is True and signed_out["notice_rx_state_"] == "idle"
    assert signed_out["notice_message_rx_state_"]
    assert set(signed_out) <= {f"{name}_rx_state_" for name in AuthState.get_fields()} | {
        f"{name}_rx_state_" for name in AuthState.computed_vars
    }
