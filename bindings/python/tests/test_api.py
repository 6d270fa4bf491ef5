"""The Python API: shapes, round trips, and every kind of bad input."""

from __future__ import annotations

import pickle
import random
import re
import sysconfig
from pathlib import Path
from typing import Any, Callable

import pytest

import smartmeter
from conftest import REPO, VALID

READING = {"sequence": 1, "timestamp_ms": 1_764_000_000_000, "wh_imported": 1200, "wh_exported": 30}
U64_MAX = 2**64 - 1


def test_imported_from_the_installed_wheel() -> None:
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    assert Path(smartmeter.__file__).resolve().is_relative_to(site)
    assert Path(smartmeter._smartmeter.__file__).name.endswith(".abi3.so")


def test_version_is_the_cargo_version() -> None:
    cargo = (REPO / "Cargo.toml").read_text()
    match = re.search(r'^\[workspace\.package\][^\[]*?^version = "([^"]+)"', cargo, re.M | re.S)
    assert match is not None
    assert smartmeter.__version__ == match.group(1)


def test_public_names_have_docstrings() -> None:
    for name in smartmeter.__all__:
        obj = getattr(smartmeter, name)
        if isinstance(obj, type):
            assert obj.__doc__, name
            for attr in vars(obj):
                if not attr.startswith("_"):
                    # Methods, static methods and getters (getset descriptors) alike.
                    assert getattr(obj, attr).__doc__, f"{name}.{attr}"
    assert smartmeter.__doc__


def test_exception_hierarchy() -> None:
    assert issubclass(smartmeter.SmartMeterError, ValueError)
    for cls in (smartmeter.MalformedReading, smartmeter.InvalidKey, smartmeter.VerificationError, smartmeter.SigningError):
        assert issubclass(cls, smartmeter.SmartMeterError)
    assert issubclass(smartmeter.InvalidSignature, smartmeter.VerificationError)
    assert issubclass(smartmeter.KeyMismatch, smartmeter.VerificationError)
    assert smartmeter.InvalidSignature.__module__ == "smartmeter"


def test_sign_and_verify_round_trip(vector_key: smartmeter.MeterKey) -> None:
    signed = vector_key.sign(**READING)
    for field, value in READING.items():
        assert getattr(signed, field) == value
    assert signed.key_id == vector_key.key_id
    assert signed.public_key == vector_key.public_key()
    assert len(signed.signature) == 256
    assert len(signed.canonical_bytes()) == smartmeter.MESSAGE_LEN
    assert signed == vector_key.sign(**READING), "deterministic"
    parsed = smartmeter.SignedReading.from_json(signed.to_json())
    assert parsed == signed
    verified = vector_key.public_key().verify(parsed)
    assert verified.signed == signed
    assert (verified.sequence, verified.wh_imported) == (1, 1200)


def test_full_u64_range(vector_key: smartmeter.MeterKey) -> None:
    signed = vector_key.sign(sequence=0, timestamp_ms=U64_MAX, wh_imported=U64_MAX, wh_exported=0)
    verified = vector_key.public_key().verify(smartmeter.SignedReading.from_json(signed.to_json()))
    assert verified.timestamp_ms == U64_MAX


def test_generate_and_key_round_trips() -> None:
    key = smartmeter.MeterKey.generate()
    assert key.public_key().bits == 2048
    again = smartmeter.MeterKey.from_pem(key.to_pem())
    assert again.key_id == key.key_id
    assert smartmeter.MeterKey.from_pem(key.to_pem().encode()).key_id == key.key_id
    assert smartmeter.MeterKey.from_der(key.to_der()).key_id == key.key_id
    public = key.public_key()
    assert smartmeter.PublicKey.from_pem(public.to_pem()) == public
    assert smartmeter.PublicKey.from_pem(public.to_pem().encode()) == public
    assert smartmeter.PublicKey.from_der(public.to_der()) == public
    assert smartmeter.PublicKey.from_base64(public.to_base64()) == public
    assert smartmeter.PublicKey.from_base64(public.to_base64().encode()) == public
    assert len({public, smartmeter.PublicKey.from_der(public.to_der())}) == 1
    assert re.fullmatch("[0-9a-f]{64}", public.key_id)


def test_reprs_show_no_private_material(vector_key: smartmeter.MeterKey) -> None:
    assert repr(vector_key) == f"MeterKey(key_id='{vector_key.key_id}')"
    assert "bits=2048" in repr(vector_key.public_key())
    assert "sequence=1" in repr(vector_key.sign(**READING))


def test_objects_are_immutable(vector_key: smartmeter.MeterKey) -> None:
    signed = vector_key.sign(**READING)
    with pytest.raises(AttributeError):
        signed.sequence = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        signed.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        hash(signed)


@pytest.mark.parametrize("bits", [1024, 2047, 4097, 8192, 0])
def test_generate_rejects_unsupported_sizes(bits: int) -> None:
    with pytest.raises(smartmeter.InvalidKey) as raised:
        smartmeter.MeterKey.generate(bits=bits)
    assert raised.value.code == "unsupported_key_size"


@pytest.mark.parametrize("bad", [-1, 2**64, 2**200])
def test_generate_rejects_out_of_range_integers(bad: int) -> None:
    with pytest.raises((OverflowError, ValueError)):
        smartmeter.MeterKey.generate(bits=bad)


@pytest.mark.parametrize("field", list(READING))
@pytest.mark.parametrize("bad", [-1, 2**64, -(2**64), 2**100])
def test_sign_rejects_out_of_range_integers(vector_key: smartmeter.MeterKey, field: str, bad: int) -> None:
    with pytest.raises(OverflowError):
        vector_key.sign(**{**READING, field: bad})


@pytest.mark.parametrize("field", list(READING))
@pytest.mark.parametrize("bad", [1.0, "1", None, b"1"])
def test_sign_rejects_non_integers(vector_key: smartmeter.MeterKey, field: str, bad: object) -> None:
    with pytest.raises(TypeError):
        vector_key.sign(**{**READING, field: bad})  # type: ignore[arg-type]


def test_sign_takes_keywords_only(vector_key: smartmeter.MeterKey) -> None:
    with pytest.raises(TypeError):
        vector_key.sign(1, 2, 3, 4)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        vector_key.sign(sequence=1, timestamp_ms=2, wh_imported=3)  # type: ignore[call-arg]


def error_code(call: Callable[[], object]) -> tuple[type[BaseException], str | None]:
    """The class and code of the exception a call raises."""
    try:
        call()
    except smartmeter.SmartMeterError as e:
        return type(e), e.code
    except Exception as e:  # noqa: BLE001 - the test reports what was raised
        return type(e), None
    pytest.fail("no exception raised")


PUBLIC_PEM: str = VALID[0]["public_key_pem"]
PRIVATE_PEM: str = VALID[0]["private_key_pem"]
WIRE: str = VALID[0]["json"]

BAD_INPUTS: list[tuple[str, Callable[[], object], type[BaseException], str | None]] = [
    ("public pem: garbage", lambda: smartmeter.PublicKey.from_pem("garbage"), smartmeter.InvalidKey, "malformed_key_text"),
    ("public pem: empty", lambda: smartmeter.PublicKey.from_pem(""), smartmeter.InvalidKey, "malformed_key_text"),
    ("public pem: a private key", lambda: smartmeter.PublicKey.from_pem(PRIVATE_PEM), smartmeter.InvalidKey, "malformed_key_text"),
    ("public pem: not utf-8", lambda: smartmeter.PublicKey.from_pem(b"\xff\xfe"), smartmeter.InvalidKey, "malformed_key_text"),
    ("public pem: 1 MB", lambda: smartmeter.PublicKey.from_pem("A" * 1_000_000), smartmeter.InvalidKey, "key_text_too_large"),
    ("public text: garbage", lambda: smartmeter.PublicKey.from_text("garbage"), smartmeter.InvalidKey, "malformed_key_text"),
    ("public text: not utf-8", lambda: smartmeter.PublicKey.from_text(b"\xff\xfe"), smartmeter.InvalidKey, "malformed_key_text"),
    ("public text: 1 MB", lambda: smartmeter.PublicKey.from_text(" " * 1_000_000), smartmeter.InvalidKey, "key_text_too_large"),
    ("public text: not a key", lambda: smartmeter.PublicKey.from_text("AAAA"), smartmeter.InvalidKey, "malformed_key"),
    ("public text: int", lambda: smartmeter.PublicKey.from_text(42), TypeError, None),  # type: ignore[arg-type]
    ("public der: empty", lambda: smartmeter.PublicKey.from_der(b""), smartmeter.InvalidKey, "malformed_key"),
    ("public der: 1 MB", lambda: smartmeter.PublicKey.from_der(b"0" * 1_000_000), smartmeter.InvalidKey, "malformed_key"),
    ("public base64: not base64", lambda: smartmeter.PublicKey.from_base64("!!"), smartmeter.InvalidKey, "malformed_key_text"),
    ("public pem: int", lambda: smartmeter.PublicKey.from_pem(42), TypeError, None),  # type: ignore[arg-type]
    ("public der: str", lambda: smartmeter.PublicKey.from_der("MIIB"), TypeError, None),  # type: ignore[arg-type]
    ("private pem: a public key", lambda: smartmeter.MeterKey.from_pem(PUBLIC_PEM), smartmeter.InvalidKey, "malformed_key"),
    ("private pem: garbage", lambda: smartmeter.MeterKey.from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), smartmeter.InvalidKey, "malformed_key"),
    ("private der: empty", lambda: smartmeter.MeterKey.from_der(b""), smartmeter.InvalidKey, "malformed_key"),
    ("private pem: None", lambda: smartmeter.MeterKey.from_pem(None), TypeError, None),  # type: ignore[arg-type]
    ("json: empty", lambda: smartmeter.SignedReading.from_json(""), smartmeter.MalformedReading, "malformed_json"),
    ("json: not utf-8", lambda: smartmeter.SignedReading.from_json(b"\xff" * 10), smartmeter.MalformedReading, "malformed_json"),
    ("json: an array", lambda: smartmeter.SignedReading.from_json("[]"), smartmeter.MalformedReading, "malformed_json"),
    ("json: 10 MB", lambda: smartmeter.SignedReading.from_json(b" " * 10_000_000), smartmeter.MalformedReading, "reading_too_large"),
    ("json: dict", lambda: smartmeter.SignedReading.from_json({}), TypeError, None),  # type: ignore[arg-type]
    ("canonical: empty", lambda: smartmeter.Message.from_bytes(b""), smartmeter.MalformedReading, "wrong_length"),
    ("canonical: str", lambda: smartmeter.Message.from_bytes("x" * 82), TypeError, None),  # type: ignore[arg-type]
    ("verify: not a reading", lambda: smartmeter.PublicKey.from_pem(PUBLIC_PEM).verify(WIRE), TypeError, None),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("name,call,cls,code", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_raises_the_documented_exception(
    name: str, call: Callable[[], object], cls: type[BaseException], code: str | None
) -> None:
    assert error_code(call) == (cls, code)


def test_key_mismatch_and_invalid_signature(vector_key: smartmeter.MeterKey, other_key: smartmeter.MeterKey) -> None:
    signed = vector_key.sign(**READING)
    with pytest.raises(smartmeter.KeyMismatch) as mismatch:
        other_key.public_key().verify(signed)
    assert mismatch.value.code == "key_mismatch"
    assert vector_key.key_id in str(mismatch.value)
    # Caught by `except ValueError` and `except Exception`, never only by BaseException.
    with pytest.raises(ValueError):
        other_key.public_key().verify(signed)

    doc: dict[str, Any] = __import__("json").loads(signed.to_json())
    doc["wh_imported"] += 1
    tampered = smartmeter.SignedReading.from_json(__import__("json").dumps(doc))
    with pytest.raises(smartmeter.InvalidSignature) as invalid:
        vector_key.public_key().verify(tampered)
    assert invalid.value.code == "invalid_signature"


def test_error_code_survives_raise_and_catch() -> None:
    try:
        smartmeter.SignedReading.from_json("{}")
    except ValueError as e:
        assert isinstance(e, smartmeter.MalformedReading)
        assert e.code == "malformed_json"
        assert "malformed json" in str(e)
    else:
        pytest.fail("no exception")


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random byte-level mutation: flip, insert, delete or truncate."""
    b = bytearray(data)
    op = rng.randrange(4)
    i = rng.randrange(len(b)) if b else 0
    if op == 0 and b:
        b[i] ^= 1 << rng.randrange(8)
    elif op == 1:
        b.insert(i, rng.randrange(256))
    elif op == 2 and b:
        del b[i]
    else:
        del b[i:]
    return bytes(b)


def test_mutated_inputs_raise_only_smartmeter_errors() -> None:
    """No input reaches Python as anything but a result or a SmartMeterError
    (a Rust panic would arrive as pyo3's PanicException, a BaseException)."""
    rng = random.Random(20261125)
    registered = smartmeter.PublicKey.from_pem(PUBLIC_PEM)
    wire = WIRE.encode()
    der = registered.to_der()
    canonical = smartmeter.SignedReading.from_json(WIRE).canonical_bytes()
    outcomes: dict[str, int] = {}
    for _ in range(600):
        for name, call in (
            ("json", lambda: registered.verify(smartmeter.SignedReading.from_json(mutate(wire, rng)))),
            ("der", lambda: smartmeter.PublicKey.from_der(mutate(der, rng))),
            ("canonical", lambda: smartmeter.Message.from_bytes(mutate(canonical, rng))),
        ):
            try:
                call()
                outcomes["ok"] = outcomes.get("ok", 0) + 1
            except smartmeter.SmartMeterError as e:
                assert e.code in smartmeter.ERROR_CODES
                outcomes[e.code] = outcomes.get(e.code, 0) + 1
    assert outcomes.get("invalid_signature", 0) > 0 and outcomes.get("malformed_json", 0) > 0


def test_exceptions_pickle_with_their_code() -> None:
    try:
        smartmeter.SignedReading.from_json("{}")
    except smartmeter.SmartMeterError as e:
        copy = pickle.loads(pickle.dumps(e))
        assert type(copy) is smartmeter.MalformedReading
        assert (str(copy), copy.code) == (str(e), "malformed_json")
    else:
        pytest.fail("no exception")


def test_text_arguments_name_the_accepted_types() -> None:
    with pytest.raises(TypeError, match="expected str or bytes, not int"):
        smartmeter.SignedReading.from_json(42)  # type: ignore[arg-type]
    assert smartmeter.SignedReading.from_json(bytearray(WIRE.encode())).to_json() == WIRE
