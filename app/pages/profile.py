"""/profile: the user's card, what the provider says about them, and their sessions."""

import reflex as rx

from reflex_logto import AccountState, AuthState, get_config

from ..api_state import ApiDemoState
from ..components import page_frame
from ..organization_state import OrganizationState
from ..profile_state import ProfileState
from .account import provider_check_panel, sessions_panel
from .home import claims_table, user_card


def key_value_table(rows, label: str) -> rx.Component:
    """Claims (key, value rows) as a two-column table."""
    return rx.table.root(
        rx.table.body(
            rx.foreach(
                rows,
                lambda claim: rx.table.row(
                    rx.table.row_header_cell(rx.code(claim["key"], variant="ghost")),
                    rx.table.cell(rx.text(claim["value"], word_break="break-all")),
                ),
            )
        ),
        variant="surface",
        width="100%",
        aria_label=label,
    )


def profile() -> rx.Component:
    return page_frame(
        rx.link("← Home", href="/"),
        user_card(),
        rx.text(ProfileState.last_sign_in, color_scheme="gray", size="2"),
        rx.heading("ID token claims", size="4"),
        claims_table(),
        rx.heading("What the sign-in service says", size="4"),
        provider_check_panel(),
        rx.cond(AccountState.userinfo.length() > 0, key_value_table(AccountState.userinfo, "User info")),
        rx.heading("The app's API", size="4"),
        rx.hstack(
            rx.button("Call the API", on_click=ApiDemoState.call_api, variant="soft", size="2"),
            rx.text(ApiDemoState.api_result, size="2", role="status", word_break="break-all"),
            spacing="3",
            align="center",
        ),
        organizations_panel(),
        sessions_panel(),
        rx.hstack(
            *account_link(),
            rx.cond(AuthState.roles.contains("admin"), rx.link("Admin page", href="/admin")),
            spacing="4",
        ),
    )


def organizations_panel() -> rx.Component:
    return rx.vstack(
        rx.heading("Organizations", size="4"),
        rx.cond(
            OrganizationState.organizations.length() > 0,
            rx.hstack(
                rx.foreach(
                    OrganizationState.organizations,
                    lambda org: rx.button(
                        org["id"], rx.text(org["roles"], size="1", color_scheme="gray"),
                        on_click=OrganizationState.switch_organization(org["id"]),
                        variant=rx.cond(OrganizationState.active_organization == org["id"], "solid", "soft"),
                        size="2",
                    ),
                ),
                spacing="2",
                wrap="wrap",
            ),
            rx.text("You are not in any organization.", color_scheme="gray", size="2"),
        ),
        rx.cond(OrganizationState.organization_error != "", rx.text(OrganizationState.organization_error, color_scheme="red", role="alert")),
        rx.cond(
            OrganizationState.organization_claims.length() > 0,
            key_value_table(OrganizationState.organization_claims, "Organization token"),
        ),
        spacing="3",
        width="100%",
    )


def account_link() -> list[rx.Component]:
    """Logto's account pages (profile, password, MFA), when LOGTO_ACCOUNT_URL is set."""
    url = get_config().account_url
    return [rx.link("Manage your account", href=url, is_external=True)] if url else []
