"""The profile page's API demo: call the app's own API with the user's access token for it."""

import json

import httpx

import reflex as rx

from .api import API_PATH, api_resource
from .auth import AuthState, get_access_token, requires_session
from .auth.errors import ProviderUnavailable
from .auth.lifecycle import SessionEnded
from .auth.runtime import get_flow


class ApiDemoState(AuthState):
    api_result: str = ""
    """What the API answered, or why it refused."""

    @rx.event
    @requires_session
    async def call_api(self):
        """Get an access token for the API resource (cached, refreshed when due) and call it."""
        flow = get_flow()
        try:
            token = await get_access_token(self, api_resource())
        except ValueError:
            self.api_result = f"The API demo needs LOGTO_RESOURCES to list {api_resource()} (and read:demo in LOGTO_SCOPES)."
            return
        except SessionEnded as ended:
            self._show_signed_out(ended.reason)
            return
        except ProviderUnavailable:
            self.api_result = "The sign-in service can't be reached to get a token for the API."
            return
        # The backend calls itself through the provider client's pooled connection.
        try:
            response = await flow.client._http.request(
                "GET", f"{flow.backend_url}{API_PATH}", withhold_token=True, headers={"Authorization": f"Bearer {token}"}
            )
            body = response.json()
        except (httpx.HTTPError, ValueError):
            self.api_result = "The API did not answer."
            return
        if response.status_code == 403:
            self.api_result = "The API refused: your account doesn't have the read:demo permission."
        elif response.status_code != 200:
            self.api_result = f"The API refused the token ({body.get('error', response.status_code)})."
        else:
            self.api_result = json.dumps(body)
