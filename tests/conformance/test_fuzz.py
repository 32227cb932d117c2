"""Property-based fuzzing of what a browser or a provider can send unasked."""

from __future__ import annotations

import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PARAMETERS = ["code", "state", "iss", "error", "error_description", "app_error", "session_state", "x"]
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from(["", "%00", "../", "<script>", "\r\n"])
queries = st.lists(st.tuples(st.sampled_from(PARAMETERS) | st.text(max_size=10), text), max_size=8)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries, with_real_state=st.booleans())
async def test_callback_never_fails_and_never_signs_in_unasked(rp, op, query, with_real_state):
    if with_real_state:
        params = await rp.begin()
        query = [*query, ("state", params["state"])]  # a real state, with anything else around it
    page, session_route = await rp.callback(urllib.parse.urlencode(query))
    codes = [value for key, value in query if key == "code"]
    if session_route is None:
        assert page.error_code, query
    else:  # only an honest code for a real state gets this far
        assert with_real_state and codes
    assert rp.count("sessions") == 0


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        st.lists(st.tuples(st.sampled_from(["logout_token", "x"]), text), max_size=4).map(urllib.parse.urlencode).map(str.encode),
    ),
    content_type=st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json", "text/plain"]),
)
async def test_backchannel_logout_route_refuses_anything_forged(rp, op, body, content_type):
    if not rp.browser.cookies:
        await rp.sign_in()
    sessions = rp.count("sessions")
    response = await rp.browser.post("/auth/backchannel-logout", content=body, headers={"content-type": content_type})
    assert response.status_code == 400
    assert rp.count("sessions") == sessions
