"""Kalshi request signing (KALSHI-API.md §2), shared by the gatherer and the simulator.

Signature = base64(RSA-PSS(SHA-256, MGF1 SHA-256, salt 32) over `<ts_ms><METHOD><path>`), the
path starting at the root (`/trade-api/v2/...` or `/trade-api/ws/v2`) without its query.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def load_private_key(pem: bytes | str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("Kalshi keys are RSA keys")
    return key


def signing_message(timestamp_ms: str, method: str, path: str) -> bytes:
    return f"{timestamp_ms}{method.upper()}{path.split('?', 1)[0]}".encode()


def sign_headers(
    key_id: str,
    private_key: rsa.RSAPrivateKey | bytes | str,
    method: str,
    path: str,
    now_ms: int | None = None,
) -> dict[str, str]:
    """The three KALSHI-ACCESS-* headers for one request (sign again on every reconnect)."""
    key = private_key if isinstance(private_key, rsa.RSAPrivateKey) else load_private_key(private_key)
    timestamp = str(time.time_ns() // 1_000_000 if now_ms is None else now_ms)
    signature = key.sign(signing_message(timestamp, method, path), _PSS, hashes.SHA256())
    return {
        KEY_HEADER: key_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: base64.b64encode(signature).decode(),
    }


def generate_keypair(bits: int = 2048) -> tuple[bytes, bytes]:
    """(private key PEM, public key PEM), unencrypted; for tests and local demos."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


class Verifier:
    """Checks signed requests against one public key; `refusal()` says why a request fails."""

    def __init__(self, public_pem: bytes, key_id: str | None = None, max_skew_ms: int = 300_000) -> None:
        key = serialization.load_pem_public_key(public_pem)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("Kalshi keys are RSA keys")
        self.key, self.key_id, self.max_skew_ms = key, key_id, max_skew_ms

    @classmethod
    def from_file(cls, path: Path, key_id: str | None = None, max_skew_ms: int = 300_000) -> Verifier:
        return cls(Path(path).read_bytes(), key_id, max_skew_ms)

    def refusal(self, method: str, path: str, headers: Mapping[str, str]) -> str | None:
        """None when the request is correctly signed, else a one-line reason."""
        key_id, timestamp, signature = (headers.get(h) for h in (KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
        if not (key_id and timestamp and signature):
            return f"missing {KEY_HEADER}, {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
        if self.key_id is not None and key_id != self.key_id:
            return "unknown API key id"
        if not timestamp.isdigit():
            return f"{TIMESTAMP_HEADER} must be Unix milliseconds"
        if abs(time.time_ns() // 1_000_000 - int(timestamp)) > self.max_skew_ms:
            return f"{TIMESTAMP_HEADER} too far from server time (> {self.max_skew_ms} ms)"
        try:
            self.key.verify(base64.b64decode(signature, validate=True), signing_message(timestamp, method, path),
                            _PSS, hashes.SHA256())
        except (InvalidSignature, ValueError):
            return "invalid signature (expected RSA-PSS SHA-256 over timestamp + METHOD + path)"
        return None
