"""The OpenID Connect protocol as a relying party sees it: no Reflex, no Starlette.

`client.OidcClient` runs the protocol steps; the token modules are pure checks
of a JWT, its keys and the clock.
"""
