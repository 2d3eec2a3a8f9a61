"""Time-based one-time passwords (RFC 6238, HMAC-SHA1, 6 digits, 30 s steps).

Written here with ``hmac`` rather than adding a package: it is thirty lines of standard-library
code, checked against the RFC's own test vectors (tests/web/test_totp.py), and the authenticator
apps households use (Google Authenticator, 1Password, Authy...) all speak exactly this profile.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
#: Accept the previous and next step too: phones drift and people type slowly.
DRIFT_STEPS = 1


def new_secret() -> str:
    """A random 160-bit secret, base32 without padding (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret_b32: str) -> bytes:
    cleaned = secret_b32.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226 HOTP value of ``counter``."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def step_at(unix_seconds: float) -> int:
    return int(unix_seconds // STEP_SECONDS)


def totp_at(secret_b32: str, unix_seconds: float) -> str:
    """The code an authenticator shows at ``unix_seconds``."""
    return hotp(_key(secret_b32), step_at(unix_seconds))


def matching_step(secret_b32: str, code: str, unix_seconds: float) -> int | None:
    """The time step ``code`` belongs to (within the drift allowance), or None.

    Compared in constant time. The caller stores the step it accepted and refuses steps at or
    before it, so a code cannot be replayed.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    key = _key(secret_b32)
    now_step = step_at(unix_seconds)
    found: int | None = None
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if hmac.compare_digest(hotp(key, step), code):
            found = step
    return found


def provisioning_uri(secret_b32: str, *, account: str, issuer: str = "PowerSync") -> str:
    """``otpauth://`` URI for authenticator apps (typed in or pasted; we render no QR code)."""
    label = quote(f"{issuer}:{account}")
    query = urlencode({"secret": secret_b32, "issuer": issuer, "digits": DIGITS, "period": 30})
    return f"otpauth://totp/{label}?{query}"
