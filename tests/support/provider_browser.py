"""A browser's side of the provider's pages, in plain HTTP: follow redirects,
fill the sign-in form, submit the logout form. Used where no real browser is
needed; the browser tests click the same pages in chromium."""

from __future__ import annotations

import html.parser
import urllib.parse

import httpx


class _Forms(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value", "")


def forms(page: str) -> list[dict]:
    parser = _Forms()
    parser.feed(page)
    return parser.forms


class ProviderBrowser:
    """Carries the provider's cookies; stops at the first redirect that leaves the provider."""

    def __init__(self, provider_origin: str):
        self.origin = provider_origin
        self.http = httpx.Client(follow_redirects=False, timeout=10)

    def close(self) -> None:
        self.http.close()

    def _follow(self, response: httpx.Response) -> httpx.Response | str:
        """Follow redirects inside the provider; return the first URL outside it."""
        while response.is_redirect:
            target = urllib.parse.urljoin(str(response.url), response.headers["location"])
            if not target.startswith(self.origin):
                return target
            response = self.http.get(target)
        return response

    def open(self, url: str) -> httpx.Response | str:
        return self._follow(self.http.get(url))

    def sign_in(self, authorization_url: str, username: str, password: str) -> str:
        """Go through the sign-in form; return the callback URL the provider sends back."""
        page = self.open(authorization_url)
        if isinstance(page, str):
            return page  # already signed in at the provider
        form = forms(page.text)[0]
        action = urllib.parse.urljoin(str(page.url), form["action"])
        result = self._follow(self.http.post(action, data={"username": username, "password": password}))
        assert isinstance(result, str), f"sign-in did not leave the provider: {result.text[:300]}"
        return result

    def sign_out(self, end_session_url: str) -> str:
        """Follow the end-session URL, submit the logout form; return where it lands."""
        page = self.open(end_session_url)
        if isinstance(page, str):
            return page
        form = next(f for f in forms(page.text) if "xsrf" in f["fields"])
        action = urllib.parse.urljoin(str(page.url), form["action"])
        result = self._follow(self.http.post(action, data={**form["fields"], "logout": "yes"}))
        assert isinstance(result, str), f"logout did not leave the provider: {result.text[:300]}"
        return result
