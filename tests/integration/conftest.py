import httpx
import pytest

from reflex_logto.config import AuthConfig
from reflex_logto.reflex import runtime
from reflex_logto.reflex.routes import auth_routes
from tests.support.app_flow import BACKEND


@pytest.fixture
async def app(request, registered_app, tmp_path):
    marker = request.node.get_closest_marker("app_env")
    env = {**registered_app, "LOGTO_SESSION_DB": str(tmp_path / "sessions.sqlite3"), **(marker.kwargs if marker else {})}
    config = AuthConfig.from_env(env)
    runtime.configure(config, backend_url=BACKEND)
    # The app's backend routes, as the browser reaches them (cookies kept per host).
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=auth_routes()), base_url=BACKEND) as browser:
        yield browser
    await runtime.shutdown()
