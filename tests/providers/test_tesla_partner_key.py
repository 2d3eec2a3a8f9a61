"""Partner key: prime256v1 generation, PEM formats, loading and deriving the public key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from devices.providers.tesla import (
    PUBLIC_KEY_CONTENT_TYPE,
    PUBLIC_KEY_PATH,
    generate_partner_key_pair,
    load_private_key,
    public_key_pem_from_private,
)


def test_generated_pair_is_prime256v1_in_the_expected_pem_formats():
    pair = generate_partner_key_pair()

    assert pair.private_key_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    assert pair.public_key_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")  # SPKI
    public_key = serialization.load_pem_public_key(pair.public_key_pem)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"
    assert b"PRIVATE" not in repr(pair).encode()


def test_public_key_derived_from_private_matches_and_verifies_signatures():
    pair = generate_partner_key_pair()

    assert public_key_pem_from_private(pair.private_key_pem) == pair.public_key_pem
    private_key = load_private_key(pair.private_key_pem)
    signature = private_key.sign(b"payload", ec.ECDSA(hashes.SHA256()))
    public_key = serialization.load_pem_public_key(pair.public_key_pem)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(signature, b"payload", ec.ECDSA(hashes.SHA256()))  # raises if wrong


def test_two_generated_pairs_differ():
    assert generate_partner_key_pair().public_key_pem != generate_partner_key_pair().public_key_pem


def test_encrypted_private_key_round_trip():
    pair = generate_partner_key_pair(password=b"pw")

    assert pair.private_key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert public_key_pem_from_private(pair.private_key_pem, password=b"pw") == pair.public_key_pem
    with pytest.raises(ValueError, match="usable PEM"):
        load_private_key(pair.private_key_pem)
    with pytest.raises(ValueError, match="usable PEM"):
        load_private_key(pair.private_key_pem, password=b"wrong")


def test_other_curves_and_key_types_are_refused():
    p384 = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def as_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    with pytest.raises(ValueError, match="prime256v1"):
        load_private_key(as_pem(p384))
    with pytest.raises(ValueError, match="EC key"):
        load_private_key(as_pem(rsa_key))


def test_garbage_is_refused():
    with pytest.raises(ValueError, match="usable PEM"):
        load_private_key(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")


def test_well_known_location_constants():
    assert PUBLIC_KEY_PATH == "/.well-known/appspecific/com.tesla.3p.public-key.pem"
    assert PUBLIC_KEY_CONTENT_TYPE == "application/x-pem-file"
