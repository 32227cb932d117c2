"""Encryption at rest for what the stores keep: tokens, PKCE verifiers, nonces.

AES-256-GCM with a key derived from LOGTO_COOKIE_SECRET by HKDF-SHA256. The
associated data names the record a blob belongs to, so a blob copied into
another row does not open. Rotation: new blobs are sealed with the current
secret; blobs sealed with a previous one still open.
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
    """Seals JSON values with the current secret; opens them with it or a previous one."""

    def __init__(self, secret: str, previous: tuple[str, ...] = ()):
        self._keys = [AESGCM(_derive_key(s)) for s in (secret, *previous)]

    def seal(self, value: Any, *, record: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps(value, separators=(",", ":")).encode()
        return _VERSION + nonce + self._keys[0].encrypt(nonce, plaintext, record.encode())

    def open(self, blob: bytes, *, record: str) -> Any:
        if not blob.startswith(_VERSION) or len(blob) < 1 + _NONCE_BYTES + 16:
            raise SealError("unknown blob format")
        nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        for key in self._keys:
            try:
                return json.loads(key.decrypt(nonce, ciphertext, record.encode()))
            except InvalidTag:
                continue
        raise SealError("blob does not open with any configured secret for this record")
