"""The profile page's API demo: call the app's own API with the user's access token for it."""

import json
import os

import httpx
import reflex as rx

import reflex_logto

from .api import API_PATH, API_SCOPE, api_resource

_http: tuple[int, httpx.AsyncClient] | None = None


def http_client() -> httpx.AsyncClient:
    """This process's client for calling the API (made after any fork, pooled)."""
    global _http
    if _http is None or _http[0] != os.getpid():
        _http = (os.getpid(), httpx.AsyncClient(timeout=10.0, follow_redirects=False))
    return _http[1]


class ApiDemoState(reflex_logto.AuthState):
    api_result: str = ""
    """What the API answered, or why it refused."""

    @rx.event
    @reflex_logto.requires_session
    async def call_api(self, session: reflex_logto.UserSession):
        """Get an access token for the API resource (cached, refreshed when due) and call it."""
        try:
            token = await session.access_token(api_resource())
        except ValueError:
            self.api_result = f"The API demo needs LOGTO_RESOURCES to list {api_resource()} (and {API_SCOPE} in LOGTO_SCOPES)."
            return
        except reflex_logto.SessionEnded:
            self.api_result = "Your session has ended."
            return
        except reflex_logto.ProviderUnavailable:
            self.api_result = "The sign-in service can't be reached to get a token for the API."
            return
        except reflex_logto.SignInError:
            self.api_result = "The sign-in service did not give a token for the API."
            return
        try:
            response = await http_client().get(
                f"{rx.config.get_config().api_url.rstrip('/')}{API_PATH}", headers={"Authorization": f"Bearer {token}"}
            )
            body = response.json()
        except (httpx.HTTPError, ValueError):
            self.api_result = "The API did not answer."
            return
        if response.status_code == 403:
            self.api_result = f"The API refused: your account doesn't have the {API_SCOPE} permission."
        elif response.status_code != 200:
            self.api_result = f"The API refused the token ({body.get('error', response.status_code)})."
        else:
            self.api_result = json.dumps(body)
