"""The application's partner key: an EC key on prime256v1 (a.k.a. secp256r1, NIST P-256).

Tesla fetches the public half from
``https://<app-domain>/.well-known/appspecific/com.tesla.3p.public-key.pem`` when the domain is
registered (``TeslaOAuthClient.register_partner_domain``). The private half never leaves our
secret store; energy endpoints do not sign commands with it, but vehicle commands would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

PUBLIC_KEY_PATH = "/.well-known/appspecific/com.tesla.3p.public-key.pem"
PUBLIC_KEY_CONTENT_TYPE = "application/x-pem-file"


@dataclass(frozen=True)
class PartnerKeyPair:
    """PEM bytes of both halves. The private key is hidden from ``repr``."""

    private_key_pem: bytes = field(repr=False)
    public_key_pem: bytes


def generate_partner_key_pair(*, password: bytes | None = None) -> PartnerKeyPair:
    """Create a new prime256v1 key pair.

    The private key is PEM PKCS#8 (encrypted with ``password`` if given); the public key is PEM
    SubjectPublicKeyInfo, the form Tesla expects at the well-known URL.
    """
    private_key = ec.generate_private_key(ec.SECP256R1())
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    private_pem = private_key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=encryption,
    )
    return PartnerKeyPair(
        private_key_pem=private_pem, public_key_pem=_public_pem(private_key.public_key())
    )


def load_private_key(pem: bytes, *, password: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """Load a PEM private key and check it is an EC key on prime256v1.

    Raises:
        ValueError: not a PEM private key, wrong password, not EC, or another curve. The message
            never contains key material.
    """
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError) as exc:
        # TypeError: password given for an unencrypted key or missing for an encrypted one.
        raise ValueError(f"not a usable PEM private key ({type(exc).__name__})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("partner key must be an EC key")
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"partner key must use prime256v1, not {key.curve.name}")
    return key


def public_key_pem_from_private(pem: bytes, *, password: bytes | None = None) -> bytes:
    """The PEM SubjectPublicKeyInfo to serve for a stored private key."""
    return _public_pem(load_private_key(pem, password=password).public_key())


def _public_pem(public_key: ec.EllipticCurvePublicKey) -> bytes:
    return public_key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
