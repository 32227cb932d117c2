"""The app's pages give a browser that has none its sign-in cookie, so a Sign in click can
go straight to the provider; nothing else does, and no shared cache may keep one."""

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from reflex_logto.config import AuthConfig, Secret
from reflex_logto.reflex.browser_binding import bind_on_pages
from reflex_logto.reflex.cookies import CookiePolicy, valid_binding

POLICY = CookiePolicy.from_config(
    AuthConfig(
        issuer="https://id.example.com/oidc", client_id="app", client_secret=Secret("s"),
        base_url="https://app.example.com", cookie_secret=Secret("c" * 32),
    )
)


def page(request):
    if request.headers.get("if-none-match") == '"1"':
        return Response(status_code=304, headers={"ETag": '"1"'})  # as Starlette's StaticFiles: no type
    return HTMLResponse("<html></html>", headers={"ETag": '"1"'})


def json(request):
    return JSONResponse({})


def script(request):
    return PlainTextResponse("x", media_type="text/javascript")


APP = bind_on_pages(POLICY, ("/auth", "/callback"))(
    Starlette(
        routes=[
            Route("/data", json),
            Route("/assets/{name}", script),
            Route("/missing", lambda request: HTMLResponse("gone", status_code=404)),
            Route("/{path:path}", page, methods=["GET", "POST"]),
        ]
    )
)


async def get(path: str, *, cookie: str = "", method: str = "GET", **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="https://app.example.com") as client:
        return await client.request(method, path, headers={**({"cookie": cookie} if cookie else {}), **headers})


@pytest.mark.parametrize("path", ["/", "/account", "/callback-not", "/protected?x=1"])
async def test_a_page_gives_a_browser_without_one_its_sign_in_cookie(path):
    response = await get(path)
    name, _, rest = response.headers["set-cookie"].partition("=")
    value, _, attributes = rest.partition(";")
    assert name == "__Host-logto_signin" and valid_binding(value)
    assert [a.strip() for a in attributes.split(";")] == ["HttpOnly", "Path=/", "SameSite=Lax", "Secure"]  # no Max-Age
    # A shared cache that kept it would give every visitor one binding.
    assert response.headers["cache-control"] == "private, no-cache"


async def test_each_browser_gets_a_value_of_its_own():
    values = {(await get("/")).headers["set-cookie"].split(";")[0] for _ in range(20)}
    assert len(values) == 20


async def test_a_browser_that_has_one_keeps_it():
    response = await get("/", cookie=f"__Host-logto_signin={'b' * 43}")
    assert "set-cookie" not in response.headers and "cache-control" not in response.headers


async def test_a_value_the_app_did_not_make_is_replaced():
    response = await get("/", cookie="__Host-logto_signin=forged")
    assert valid_binding(response.cookies["__Host-logto_signin"])


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/data", "GET"),  # not a page
        ("/assets/app-12345678.js", "GET"),
        ("/missing", "GET"),  # not served
        ("/auth/sign-in/x", "GET"),  # the routes that set their own cookies
        ("/callback?code=x", "GET"),
        ("/", "POST"),
        ("/", "HEAD"),
    ],
)
async def test_nothing_else_sets_it(path, method):
    response = await get(path, method=method)
    assert "set-cookie" not in response.headers


async def test_a_revalidated_page_names_no_type_and_sets_none():
    response = await get("/", **{"if-none-match": '"1"'})
    assert response.status_code == 304
    assert "set-cookie" not in response.headers
