"""Interop with pyca/cryptography, both ways.

cryptography knows nothing about SmartMeters: the canonical bytes on its side
are built here from the specification's table (docs/spec.md, section 5.1),
so these tests also check the wheel's encoding against the spec.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct

import pytest
from cryptography.exceptions import InvalidSignature as CryptographyInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import smartmeter

READING = {"sequence": 42, "timestamp_ms": 1_764_000_005_000, "wh_imported": 987_654_321, "wh_exported": 123_456}


def spki_der(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def canonical(key_id: bytes, sequence: int, timestamp_ms: int, wh_imported: int, wh_exported: int) -> bytes:
    """The canonical message, from the spec's layout table."""
    return b"SMARTMETERS:READ" + bytes([1, 1]) + key_id + struct.pack(">QQQQ", sequence, timestamp_ms, wh_imported, wh_exported)


def wire_json(der: bytes, signature: bytes, reading: dict[str, int]) -> str:
    """The JSON wire form, from the spec's field list."""
    doc = {"version": 1, "algorithm": 1, "public_key": base64.b64encode(der).decode(), **reading,
           "signature": base64.b64encode(signature).decode()}
    return json.dumps(doc, separators=(",", ":"))


@pytest.fixture(scope="module")
def crypto_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_wheel_signs_cryptography_verifies(vector_key: smartmeter.MeterKey) -> None:
    signed = vector_key.sign(**READING)
    public = serialization.load_pem_public_key(vector_key.public_key().to_pem().encode())
    assert isinstance(public, rsa.RSAPublicKey)
    assert spki_der(public) == vector_key.public_key().to_der()
    assert hashlib.sha256(spki_der(public)).hexdigest() == vector_key.key_id
    expected = canonical(bytes.fromhex(vector_key.key_id), **READING)
    assert signed.canonical_bytes() == expected
    public.verify(signed.signature, expected, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(CryptographyInvalidSignature):
        public.verify(signed.signature, canonical(bytes.fromhex(vector_key.key_id), **{**READING, "wh_imported": 0}),
                      padding.PKCS1v15(), hashes.SHA256())


def test_wheel_key_loads_in_cryptography_and_signs_identically(vector_key: smartmeter.MeterKey) -> None:
    private = serialization.load_pem_private_key(vector_key.to_pem().encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    signed = vector_key.sign(**READING)
    assert private.sign(signed.canonical_bytes(), padding.PKCS1v15(), hashes.SHA256()) == signed.signature


def test_cryptography_signs_wheel_verifies(crypto_key: rsa.RSAPrivateKey) -> None:
    der = spki_der(crypto_key.public_key())
    key_id = hashlib.sha256(der).digest()
    message = canonical(key_id, **READING)
    signature = crypto_key.sign(message, padding.PKCS1v15(), hashes.SHA256())

    received = smartmeter.SignedReading.from_json(wire_json(der, signature, READING))
    assert received.canonical_bytes() == message
    assert received.key_id == key_id.hex()
    registered = smartmeter.PublicKey.from_der(der)
    verified = registered.verify(received)
    assert (verified.sequence, verified.wh_imported) == (READING["sequence"], READING["wh_imported"])

    forged = crypto_key.sign(canonical(key_id, **{**READING, "wh_exported": 0}), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(smartmeter.InvalidSignature):
        registered.verify(smartmeter.SignedReading.from_json(wire_json(der, forged, READING)))


def test_cryptography_key_loads_in_the_wheel(crypto_key: rsa.RSAPrivateKey) -> None:
    pem = crypto_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key = smartmeter.MeterKey.from_pem(pem)
    der = spki_der(crypto_key.public_key())
    assert key.key_id == hashlib.sha256(der).hexdigest()
    assert key.public_key().to_der() == der
    signed = key.sign(**READING)
    assert signed.signature == crypto_key.sign(signed.canonical_bytes(), padding.PKCS1v15(), hashes.SHA256())
    der_private = crypto_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert smartmeter.MeterKey.from_der(der_private).key_id == key.key_id


def test_public_key_text_written_by_cryptography_is_accepted(crypto_key: rsa.RSAPrivateKey) -> None:
    # docs/spec.md section 7.1: what pyca/cryptography writes is accepted as is,
    # with LF or CRLF line endings, and base64 of its DER in every layout.
    public = crypto_key.public_key()
    der = spki_der(public)
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    one_line = base64.b64encode(der)
    wrapped = b"".join(one_line[i : i + 64] + b"\n" for i in range(0, len(one_line), 64))
    key_id = hashlib.sha256(der).hexdigest()
    for text in (pem, pem.decode(), pem.replace(b"\n", b"\r\n"), pem.rstrip(b"\n"), one_line, wrapped):
        assert smartmeter.PublicKey.from_text(text).key_id == key_id
    assert smartmeter.PublicKey.from_pem(pem).key_id == key_id
    assert smartmeter.PublicKey.from_text(pem).to_pem().encode() == pem
    # PKCS#1 ("RSA PUBLIC KEY") and OpenSSH are other formats: refused as text.
    for other in (
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
    ):
        with pytest.raises(smartmeter.InvalidKey) as raised:
            smartmeter.PublicKey.from_text(other)
        assert raised.value.code == "malformed_key_text"


@pytest.mark.parametrize(
    "exponent,bits,code",
    [(3, 2048, "unsupported_exponent"), (65537, 1024, "key_too_small")],
)
def test_cryptography_keys_outside_the_policy_are_refused(exponent: int, bits: int, code: str) -> None:
    weak = rsa.generate_private_key(public_exponent=exponent, key_size=bits)
    with pytest.raises(smartmeter.InvalidKey) as raised:
        smartmeter.PublicKey.from_der(spki_der(weak.public_key()))
    assert raised.value.code == code
    pem = weak.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(smartmeter.InvalidKey) as raised:
        smartmeter.MeterKey.from_pem(pem)
    assert raised.value.code == code


def test_traditional_openssl_pem_is_refused(crypto_key: rsa.RSAPrivateKey) -> None:
    # Only PKCS#8 is accepted (docs/spec.md, section Key formats).
    pem = crypto_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
    with pytest.raises(smartmeter.InvalidKey) as raised:
        smartmeter.MeterKey.from_pem(pem)
    assert raised.value.code == "malformed_key"
