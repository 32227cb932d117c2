"""Encryption at rest for what the stores keep: tokens, PKCE verifiers, nonces.

AES-256-GCM with a key derived from LOGTO_COOKIE_SECRET by HKDF-SHA256. The
associated data names the record a blob belongs to, so a blob copied into
another row does not open.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE_BYTES = 12


class SealError(Exception):
    """A blob did not open: wrong key, wrong record, or tampered with."""


def _derive_key(secret: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"reflex-logto store v1",
    ).derive(secret.encode())


class Sealer:
    """Seals and opens JSON values with one secret."""

    def __init__(self, secret: str):
        self._aead = AESGCM(_derive_key(secret))

    def seal(self, value: Any, *, record: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps(value, separators=(",", ":")).encode()
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, record.encode())

    def open(self, blob: bytes, *, record: str) -> Any:
        if not blob.startswith(_VERSION) or len(blob) < 1 + _NONCE_BYTES + 16:
            raise SealError("unknown blob format")
        nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            plaintext = self._aead.decrypt(nonce, ciphertext, record.encode())
        except InvalidTag as err:
            raise SealError("blob does not open with this key for this record") from err
        return json.loads(plaintext)
