"""Every shared vector in docs/vectors/, byte for byte."""

from __future__ import annotations

import json
from typing import Any

import pytest

import smartmeter
from conftest import INVALID, KEY_TEXT, VALID, spec_table

FIELDS = ("sequence", "timestamp_ms", "wh_imported", "wh_exported")


def reading_of(case: dict[str, Any]) -> dict[str, int]:
    """The reading of a valid case (decimal strings in the file) as integers."""
    return {f: int(case["reading"][f]) for f in FIELDS}


@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_valid_vector_signs_byte_for_byte(case: dict[str, Any]) -> None:
    key = smartmeter.MeterKey.from_pem(case["private_key_pem"])
    assert key.key_id == case["key_id"]
    public = key.public_key()
    assert public.to_pem() == case["public_key_pem"]
    assert public.to_base64() == case["public_key_der_base64"]
    assert public.bits == int(case["key_bits"])

    signed = key.sign(**reading_of(case))
    assert signed.canonical_bytes().hex() == case["canonical_hex"]
    assert signed.signature.hex() == case["signature_hex"]
    assert signed.to_json() == case["json"]
    assert signed.algorithm == int(case["algorithm"])


@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_valid_vector_parses_and_verifies(case: dict[str, Any]) -> None:
    registered = smartmeter.PublicKey.from_pem(case["public_key_pem"])
    assert registered.key_id == case["key_id"]
    assert registered == smartmeter.PublicKey.from_base64(case["public_key_der_base64"])

    for wire in (case["json"], case["json"].encode()):
        received = smartmeter.SignedReading.from_json(wire)
        assert received.public_key == registered
        assert received.key_id == case["key_id"]
        assert received.canonical_bytes().hex() == case["canonical_hex"]
        assert received.to_json() == case["json"]
        verified = registered.verify(received)
        for field, value in reading_of(case).items():
            assert getattr(received, field) == value
            assert getattr(verified, field) == value
        assert verified.key_id == case["key_id"]
        assert verified.algorithm == int(case["algorithm"])
        assert verified.signed == received


@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_valid_vector_canonical_message_decodes(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["canonical_hex"])
    assert len(data) == smartmeter.MESSAGE_LEN
    message = smartmeter.Message.from_bytes(data)
    assert message.to_bytes() == data
    assert message.key_id == case["key_id"]
    assert message.algorithm == int(case["algorithm"])
    for field, value in reading_of(case).items():
        assert getattr(message, field) == value


# The exception class of each family of the core's catalogue. The codes come
# from the catalogue (ERROR_CATALOGUE); only the class per family is the
# binding's choice.
EXCEPTION_OF_FAMILY: dict[str, type[smartmeter.SmartMeterError]] = {
    "decode": smartmeter.MalformedReading,
    "wire": smartmeter.MalformedReading,
    "key": smartmeter.InvalidKey,
    "keygen": smartmeter.InvalidKey,
    "verify": smartmeter.VerificationError,
    "sign": smartmeter.SigningError,
    "audit": smartmeter.AuditError,
}
# Families whose codes this binding never raises: it parses no key id text
# and applies no history rules.
NOT_RAISED = {"key_id", "policy"}
FAMILY_OF_CODE = {code: family for code, family, _ in smartmeter.ERROR_CATALOGUE}


def run_invalid(case: dict[str, Any]) -> None:
    """What the invalid.json description says to do with a case of each kind."""
    if case["kind"] == "canonical":
        smartmeter.Message.from_bytes(bytes.fromhex(case["input"]))
    elif case["kind"] == "public_key":
        smartmeter.PublicKey.from_base64(case["input"])
    elif case["kind"] == "json":
        registered = smartmeter.PublicKey.from_pem(case["registered_public_key_pem"])
        registered.verify(smartmeter.SignedReading.from_json(case["input"]))
    else:
        pytest.fail(f"unknown vector kind {case['kind']!r}")


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_invalid_vector_raises_its_code(case: dict[str, Any]) -> None:
    code = case["expected_error"]
    with pytest.raises(EXCEPTION_OF_FAMILY[FAMILY_OF_CODE[code]]) as raised:
        run_invalid(case)
    assert raised.value.code == code
    # The two verification codes have a class each.
    assert isinstance(raised.value, smartmeter.InvalidSignature) == (code == "invalid_signature")
    assert isinstance(raised.value, smartmeter.KeyMismatch) == (code == "key_mismatch")
    assert isinstance(raised.value, smartmeter.SmartMeterError)
    assert isinstance(raised.value, ValueError)
    assert str(raised.value), "every error has a message"


@pytest.mark.parametrize("case", KEY_TEXT, ids=[c["name"] for c in KEY_TEXT])
def test_key_text_vector_is_accepted_or_refused(case: dict[str, Any]) -> None:
    for text in (case["input"], case["input"].encode()):
        if "key_id" in case:
            assert smartmeter.PublicKey.from_text(text).key_id == case["key_id"]
        else:
            code = case["expected_error"]
            with pytest.raises(EXCEPTION_OF_FAMILY[FAMILY_OF_CODE[code]]) as raised:
                smartmeter.PublicKey.from_text(text)
            assert raised.value.code == code


def test_a_carried_key_outside_the_policy_is_reported_when_needed() -> None:
    # Parsing keeps the carried key's bytes; its policy error comes from
    # `.public_key` and from `verify` against another meter's key.
    case = next(c for c in INVALID if c["name"] == "json-public-key-rsa1024")
    received = smartmeter.SignedReading.from_json(case["input"])
    with pytest.raises(smartmeter.InvalidKey) as raised:
        received.public_key
    assert raised.value.code == "key_too_small"
    registered = smartmeter.PublicKey.from_pem(case["registered_public_key_pem"])
    with pytest.raises(smartmeter.InvalidKey) as raised:
        registered.verify(received)
    assert raised.value.code == "key_too_small"


def test_every_vector_code_is_a_core_code() -> None:
    codes = {c["expected_error"] for c in INVALID} | {c["expected_error"] for c in KEY_TEXT if "expected_error" in c}
    assert codes <= set(smartmeter.ERROR_CODES)
    families = {family for _, family, _ in smartmeter.ERROR_CATALOGUE}
    assert set(EXCEPTION_OF_FAMILY) | NOT_RAISED == families
    assert not set(EXCEPTION_OF_FAMILY) & NOT_RAISED


def test_the_error_catalogue_is_the_one_of_the_spec() -> None:
    # docs/spec.md section 11, row by row: code, family, meaning, in order.
    rows = spec_table("## 11. Errors", "| code | family | meaning | produced by |")
    assert [tuple(r[:3]) for r in rows] == list(smartmeter.ERROR_CATALOGUE)
    assert tuple(code for code, _, _ in smartmeter.ERROR_CATALOGUE) == smartmeter.ERROR_CODES
    assert len(set(smartmeter.ERROR_CODES)) == len(smartmeter.ERROR_CODES)


def test_vectors_are_read_in_place() -> None:
    # Nobody copies vector files: the tests read docs/vectors of the repository.
    from conftest import VECTORS

    assert VECTORS.parts[-2:] == ("docs", "vectors")
    assert json.loads((VECTORS / "valid.json").read_text())["cases"] == VALID
