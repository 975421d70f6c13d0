"""Encryption at rest for credentials and API keys (Fernet, key derived from SECRET_KEY)."""
from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"schedulerx credentials v1").derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_json(secret_key: str, value: dict) -> str:
    if not value:
        return ""
    return _fernet(secret_key).encrypt(json.dumps(value).encode()).decode()


def decrypt_json(secret_key: str, token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet(secret_key).decrypt(token.encode()))
    except InvalidToken:
        raise ValueError("stored credentials cannot be decrypted: was SECRET_KEY changed?")
