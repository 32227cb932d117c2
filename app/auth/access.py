"""Who may call each public event handler: every handler of the app, declared.

A Reflex event handler is a public endpoint: any browser can call any of them
with any arguments. A test lists every handler the app has and fails when one
appears here without a rule, so a new handler is a decision, not an accident.

- ANYONE: safe for any caller; trusts no argument and no state var, and shows
  only what the caller's own cookie entitles it to.
- SESSION: privileged; re-resolves the user from the session cookie first and
  does nothing (showing signed out) without a live session.
- FRAMEWORK: Reflex's own (hydration, setvar); no app logic behind them.
"""

ANYONE = "anyone"
SESSION = "session"
FRAMEWORK = "framework"

HANDLER_ACCESS: dict[str, str] = {
    "AuthState.load_session": ANYONE,
    "AuthState.require_sign_in": ANYONE,  # shows the caller's own session, or starts their sign-in
    "AuthState.heartbeat": ANYONE,
    "AuthState.retry_refresh": ANYONE,  # the caller's own session only
    "AuthState.sign_in": ANYONE,
    "AuthState.sign_up": ANYONE,
    "AuthState.sign_in_with": ANYONE,  # names one of the app's declared options, nothing more
    "AuthState.finish_sign_in": ANYONE,
    "AuthState.sign_out": ANYONE,  # ends only the caller's own session, if any
    "AccountState.load_sessions": SESSION,
    "AccountState.end_session": SESSION,
    "AccountState.end_other_sessions": SESSION,
    "AccountState.check_with_provider": SESSION,
    "AdminState.load_overview": SESSION,  # and the admin role (requires_session(role="admin"))
    "AdminState.setvar": FRAMEWORK,
    "ProfileState.load_profile": SESSION,
    "ApiDemoState.call_api": SESSION,
    "OrganizationState.load_organizations": SESSION,
    "OrganizationState.switch_organization": SESSION,  # only to one of the user's own organizations
    "OrganizationState.setvar": FRAMEWORK,
    "ApiDemoState.setvar": FRAMEWORK,
    "ProfileState.setvar": FRAMEWORK,
    # setvar can only call setters, and no state of the app defines one.
    "AuthState.setvar": FRAMEWORK,
    "AccountState.setvar": FRAMEWORK,
    "State.hydrate": FRAMEWORK,
    "State.hydrate_and_load": FRAMEWORK,
    "State.set_is_hydrated": FRAMEWORK,
    "State.setvar": FRAMEWORK,
    "OnLoadInternalState.on_load_internal": FRAMEWORK,
    "OnLoadInternalState.set_is_hydrated": FRAMEWORK,
    "OnLoadInternalState.setvar": FRAMEWORK,
    "UpdateVarsInternalState.update_vars_internal": FRAMEWORK,
    "UpdateVarsInternalState.setvar": FRAMEWORK,
    "FrontendEventExceptionState.handle_frontend_exception": FRAMEWORK,
    "FrontendEventExceptionState.setvar": FRAMEWORK,
    "SharedStateBaseInternal.setvar": FRAMEWORK,
}
