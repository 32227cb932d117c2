"""Who may call each event handler: a rule declared where the handler is defined.

A Reflex event handler is a public endpoint: any browser can call any of them,
with any arguments. So every handler of the app carries a rule, and an app
with a handler that has none does not start (`check_access_rules`):

- `@reflex_logto.public`: safe for any caller; trusts no argument and no state
  var, and shows only what the caller's own cookie entitles it to.
- `@reflex_logto.requires_session`: privileged; the user is re-resolved from
  the session cookie first, and without a live session nothing runs.
- Reflex's own handlers (hydration, `setvar`, ...): no app logic behind them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

import reflex as rx
from reflex.state import BaseState

from reflex_logto.errors import ConfigurationError

Rule = Literal["anyone", "session", "framework"]
ANYONE: Rule = "anyone"
SESSION: Rule = "session"
FRAMEWORK: Rule = "framework"

RULE_ATTRIBUTE = "__reflex_logto_access__"

F = TypeVar("F", bound=Callable[..., Any])

# Handlers every state has: `setvar` can only call setters, and the package's states define none.
FRAMEWORK_HANDLERS = frozenset({"setvar", "set_is_hydrated"})


def public(handler: F) -> F:
    """Declare an event handler safe for any caller (put it under `@rx.event`)."""
    setattr(handler, RULE_ATTRIBUTE, ANYONE)
    return handler


def mark(handler: F, rule: Rule) -> F:
    setattr(handler, RULE_ATTRIBUTE, rule)
    return handler


def checks_session(handler: F) -> F:
    """Declare a privileged handler that re-resolves the session itself, first thing."""
    return mark(handler, SESSION)


def _states(cls: type[BaseState]) -> Iterator[type[BaseState]]:
    yield cls
    for sub in cls.get_substates():
        yield from _states(sub)


def _is_reflex_own(cls: type) -> bool:
    module = cls.__module__
    return module == "reflex" or module.startswith(("reflex.", "reflex_base."))


def access_rule(cls: type[BaseState], name: str) -> Rule | None:
    """The rule of one event handler of a state class, or None if it has none."""
    if name in FRAMEWORK_HANDLERS or _is_reflex_own(cls):
        return FRAMEWORK
    fn = cls.event_handlers[name].fn
    while fn is not None:
        rule = getattr(fn, RULE_ATTRIBUTE, None)
        if rule is not None:
            return rule
        fn = getattr(fn, "__wrapped__", None)
    return None


def access_rules() -> dict[str, Rule | None]:
    """Every event handler of the app's states, `"StateName.handler"`, with its rule (None: undeclared)."""
    return {
        f"{cls.__name__}.{name}": access_rule(cls, name)
        for cls in _states(rx.State)
        for name in cls.event_handlers
    }


def check_access_rules() -> None:
    """Raise unless every event handler of the app has a rule; call it from the app's tests too.

    Raises:
        ConfigurationError: naming each handler without a rule.
    """
    missing = sorted(name for name, rule in access_rules().items() if rule is None)
    if missing:
        raise ConfigurationError(
            f"event handlers without an access rule: {', '.join(missing)}. Every handler is a public "
            "endpoint: mark each @reflex_logto.public (safe for anyone) or @reflex_logto.requires_session"
        )
