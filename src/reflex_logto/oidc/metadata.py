"""The provider's discovery document and key set, checked and reduced to what the app uses."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from reflex_logto.errors import InvalidProviderMetadata
from reflex_logto.oidc.id_token import allowed_algorithms

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document the app uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    id_token_algorithms: tuple[str, ...]
    end_session_endpoint: str | None = None
    revocation_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    iss_parameter_supported: bool = False


def parse_metadata(document: Any, expected_issuer: str) -> ProviderMetadata:
    """Validate a discovery document and check it names the configured issuer."""
    if not isinstance(document, dict):
        raise InvalidProviderMetadata("the discovery document is not a JSON object")
    metadata = OpenIDProviderMetadata(document)
    try:
        for key in metadata.REGISTRY_KEYS:
            # Discovery 1.0 wants RS256 listed; Logto lists only the ES384 it
            # signs with. `allowed_algorithms` checks this list instead.
            if key != "id_token_signing_alg_values_supported":
                getattr(metadata, f"validate_{key}")()
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise InvalidProviderMetadata(f"discovery document: {err}") from err
    if document["issuer"] != expected_issuer:
        # OpenID Connect Discovery 1.0, section 4.3: they must be identical.
        raise InvalidProviderMetadata(
            f"discovery names issuer {document['issuer']!r}, configured {expected_issuer!r}"
        )
    if not document.get("jwks_uri"):
        raise InvalidProviderMetadata("discovery document has no jwks_uri")
    return ProviderMetadata(
        issuer=document["issuer"],
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        id_token_algorithms=allowed_algorithms(document.get("id_token_signing_alg_values_supported")),
        end_session_endpoint=document.get("end_session_endpoint"),
        revocation_endpoint=document.get("revocation_endpoint"),
        userinfo_endpoint=document.get("userinfo_endpoint"),
        iss_parameter_supported=document.get("authorization_response_iss_parameter_supported") is True,
    )


def import_signing_keys(document: Any) -> KeySet:
    """The signature keys of a JWKS; keys of unknown types or for encryption are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise InvalidProviderMetadata("the JWKS is not a key set")
    keys = []
    for key in document["keys"]:
        if not isinstance(key, dict) or key.get("use", "sig") != "sig":
            continue
        try:
            keys.append(KeySet.import_key_set({"keys": [key]}).keys[0])
        except (JoseError, ValueError, TypeError, KeyError):
            log.info("skipped a JWKS key of type %r", key.get("kty"))
    if not keys:
        raise InvalidProviderMetadata("the JWKS has no usable signing key")
    return KeySet(keys)
