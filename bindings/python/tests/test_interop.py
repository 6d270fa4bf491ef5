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
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

import smartmeter
from conftest import VALID

READING = {"sequence": 42, "timestamp_ms": 1_764_000_005_000, "wh_imported": 987_654_321, "wh_exported": 123_456}


def spki_der(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def canonical(key_id: bytes, sequence: int, timestamp_ms: int, wh_imported: int, wh_exported: int,
              algorithm: int = 1) -> bytes:
    """The canonical message, from the spec's layout table."""
    return (b"SMARTMETERS:READ" + bytes([1, algorithm]) + key_id
            + struct.pack(">QQQQ", sequence, timestamp_ms, wh_imported, wh_exported))


def wire_json(der: bytes, signature: bytes, reading: dict[str, int], algorithm: int = 1) -> str:
    """The JSON wire form, from the spec's field list."""
    doc = {"version": 1, "algorithm": algorithm, "public_key": base64.b64encode(der).decode(), **reading,
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


# --- Algorithm 2: ECDSA P-256 with SHA-256 -------------------------------------------

# The order n of P-256 (docs/spec.md section 6.4.1).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ECDSA = ec.ECDSA(hashes.SHA256())


def raw_signature(der_signature: bytes, *, normalise: bool) -> bytes:
    """pyca's DER signature as the 64 bytes r || s of docs/spec.md 6.4.1, optionally with low S."""
    r, s = decode_dss_signature(der_signature)
    if normalise and s > (P256_ORDER - 1) // 2:
        s = P256_ORDER - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.fixture(scope="module")
def p256_vector_key() -> smartmeter.MeterKey:
    case = next(c for c in VALID if int(c["algorithm"]) == 2)
    return smartmeter.MeterKey.from_pem(case["private_key_pem"])


def test_wheel_signs_p256_cryptography_verifies(p256_vector_key: smartmeter.MeterKey) -> None:
    key = p256_vector_key
    public = serialization.load_pem_public_key(key.public_key().to_pem().encode())
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    assert spki_der(public) == key.public_key().to_der()
    assert hashlib.sha256(spki_der(public)).hexdigest() == key.key_id
    for sequence in range(8):
        reading = {**READING, "sequence": sequence}
        signed = key.sign(**reading)
        expected = canonical(bytes.fromhex(key.key_id), **reading, algorithm=2)
        assert signed.canonical_bytes() == expected
        raw = signed.signature
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        assert s <= (P256_ORDER - 1) // 2, "low S"
        public.verify(encode_dss_signature(r, s), expected, ECDSA)
        # pyca accepts the high-S twin too: the wheel's own check is what refuses it.
        public.verify(encode_dss_signature(r, P256_ORDER - s), expected, ECDSA)
        with pytest.raises(CryptographyInvalidSignature):
            public.verify(encode_dss_signature(r, s), canonical(bytes.fromhex(key.key_id), **{**reading, "wh_imported": 0},
                                                                algorithm=2), ECDSA)


def test_wheel_p256_key_loads_in_cryptography_and_back(p256_vector_key: smartmeter.MeterKey) -> None:
    private = serialization.load_pem_private_key(p256_vector_key.to_pem().encode(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    # The wheel writes PKCS#8 exactly as pyca/cryptography (OpenSSL) does.
    assert private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode() == p256_vector_key.to_pem()
    assert private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                                             ).decode() == p256_vector_key.public_key().to_pem()


def test_cryptography_signs_p256_wheel_verifies() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    der = spki_der(private.public_key())
    key_id = hashlib.sha256(der).digest()
    registered = smartmeter.PublicKey.from_der(der)
    assert (registered.spec, registered.key_id) == ("p256", key_id.hex())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert smartmeter.MeterKey.from_pem(pem).key_id == key_id.hex()
    der_private = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    assert smartmeter.MeterKey.from_der(der_private).key_id == key_id.hex()

    low = high = 0
    for sequence in range(64):
        reading = {**READING, "sequence": sequence}
        message = canonical(key_id, **reading, algorithm=2)
        der_signature = private.sign(message, ECDSA)  # random nonce, DER

        def received(signature: bytes) -> smartmeter.SignedReading:
            return smartmeter.SignedReading.from_json(wire_json(der, signature, reading, algorithm=2))

        with pytest.raises(smartmeter.InvalidSignature) as raised:
            registered.verify(received(der_signature))
        assert raised.value.code == "der_signature"

        verified = registered.verify(received(raw_signature(der_signature, normalise=True)))
        assert (verified.sequence, verified.algorithm) == (sequence, 2)
        as_given = raw_signature(der_signature, normalise=False)
        if as_given == raw_signature(der_signature, normalise=True):
            low += 1
        else:
            high += 1
            with pytest.raises(smartmeter.InvalidSignature) as raised:
                registered.verify(received(as_given))
            assert raised.value.code == "high_s"
        if low and high:
            break
    assert low and high, f"pyca gave {low} low and {high} high s values"

    forged = raw_signature(private.sign(canonical(key_id, **{**READING, "wh_exported": 0}, algorithm=2), ECDSA), normalise=True)
    with pytest.raises(smartmeter.InvalidSignature) as raised:
        registered.verify(smartmeter.SignedReading.from_json(wire_json(der, forged, READING, algorithm=2)))
    assert raised.value.code == "invalid_signature"


@pytest.mark.parametrize(
    "curve,code",
    [(ec.SECP384R1(), "unsupported_curve"), (ec.SECP256K1(), "unsupported_curve"), (ec.SECP521R1(), "unsupported_curve")],
    ids=["p384", "secp256k1", "p521"],
)
def test_cryptography_ec_keys_on_other_curves_are_refused(curve: ec.EllipticCurve, code: str) -> None:
    private = ec.generate_private_key(curve)
    with pytest.raises(smartmeter.InvalidKey) as raised:
        smartmeter.PublicKey.from_der(spki_der(private.public_key()))
    assert raised.value.code == code
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(smartmeter.InvalidKey) as raised:
        smartmeter.MeterKey.from_pem(pem)
    assert raised.value.code == code


def test_cryptography_p256_sec1_private_key_is_refused() -> None:
    # Only PKCS#8 is accepted (docs/spec.md section 7.2), as for RSA.
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    assert pem.startswith(b"-----BEGIN EC PRIVATE KEY-----")
    with pytest.raises(smartmeter.InvalidKey) as raised:
        smartmeter.MeterKey.from_pem(pem)
    assert raised.value.code == "malformed_key"
