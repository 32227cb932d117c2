"""Encryption at rest for what the stores keep: tokens, PKCE verifiers, nonces.

AES-256-GCM with a key derived from LOGTO_COOKIE_SECRET by HKDF-SHA256. The
associated data names the record a blob belongs to, so a blob copied into
another row does not open. Rotation: new blobs are sealed with the current
secret; blobs sealed with a previous one still open. Each blob names its key
by a 4-byte id, so whether a blob can still be opened is known without
opening it.

Layout: version (1 byte) | key id (4) | nonce (12) | ciphertext and tag.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x02"
_KEY_ID_BYTES = 4
_NONCE_BYTES = 12
_HEADER = 1 + _KEY_ID_BYTES + _NONCE_BYTES


class SealError(Exception):
    """A blob did not open: wrong key, wrong record, or tampered with."""


def _derive_key(secret: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"reflex-logto store v1",
    ).derive(secret.encode())


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"key id" + key).digest()[:_KEY_ID_BYTES]


class Sealer:
    """Seals JSON values with the current secret; opens them with it or a previous one."""

    def __init__(self, secret: str, previous: tuple[str, ...] = ()):
        keys = [_derive_key(s) for s in (secret, *previous)]
        self._current = _key_id(keys[0])
        self._keys = {_key_id(key): AESGCM(key) for key in reversed(keys)}

    def seal(self, value: Any, *, record: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = json.dumps(value, separators=(",", ":")).encode()
        return _VERSION + self._current + nonce + self._keys[self._current].encrypt(nonce, plaintext, record.encode())

    def can_open(self, head: bytes) -> bool:
        """Whether a blob starting with `head` (its first 5 bytes will do) was sealed with a key we hold."""
        return head[:1] == _VERSION and head[1 : 1 + _KEY_ID_BYTES] in self._keys

    def open(self, blob: bytes, *, record: str) -> Any:
        if len(blob) < _HEADER + 16 or not self.can_open(blob):
            raise SealError("sealed with a secret no longer configured, or not a sealed blob")
        key = self._keys[blob[1 : 1 + _KEY_ID_BYTES]]
        try:
            plaintext = key.decrypt(blob[1 + _KEY_ID_BYTES : _HEADER], blob[_HEADER:], record.encode())
        except InvalidTag as err:
            raise SealError("blob does not open for this record, or was tampered with") from err
        return json.loads(plaintext)
