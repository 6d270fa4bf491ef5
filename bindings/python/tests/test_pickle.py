"""Pickling: every class but MeterKey pickles, through a constructor that checks what it builds.

A VerifiedReading unpickles as ``PublicKey.verify(key, signed)``: it is
verified again, so a pickle cannot make a reading "verified" that does not
verify. A MeterKey refuses to pickle: a private key leaves it only through
``to_pem()`` or ``to_der()``.
"""

from __future__ import annotations

import copy
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

import smartmeter
from conftest import INVALID, POLICY, VALID
from test_vectors import run_invalid

PROTOCOLS = list(range(pickle.HIGHEST_PROTOCOL + 1))


def round_trip(obj: Any, protocol: int = pickle.DEFAULT_PROTOCOL) -> Any:
    return pickle.loads(pickle.dumps(obj, protocol))


def objects_of(case: dict[str, Any]) -> list[object]:
    """A valid vector's public key, signed and verified reading, message and reading."""
    registered = smartmeter.PublicKey.from_pem(case["public_key_pem"])
    signed = smartmeter.SignedReading.from_json(case["json"])
    verified = registered.verify(signed)
    return [registered, signed, verified, smartmeter.Message.from_bytes(signed.canonical_bytes()), verified.reading]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("case", VALID, ids=[c["name"] for c in VALID])
def test_keys_readings_and_messages_pickle_to_equal_objects(case: dict[str, Any], protocol: int) -> None:
    for obj in objects_of(case):
        again = round_trip(obj, protocol)
        assert type(again) is type(obj)
        assert again == obj
        assert repr(again) == repr(obj)
        assert copy.copy(obj) == obj and copy.deepcopy(obj) == obj


def test_hashable_objects_hash_alike_after_unpickling() -> None:
    registered, *_, reading = objects_of(VALID[0])
    assert isinstance(registered, smartmeter.PublicKey) and isinstance(reading, smartmeter.Reading)
    assert hash(round_trip(registered)) == hash(registered)
    assert hash(round_trip(reading)) == hash(reading)


def test_a_verified_reading_is_verified_again_when_unpickled() -> None:
    case = VALID[0]
    registered = smartmeter.PublicKey.from_pem(case["public_key_pem"])
    data = pickle.dumps(registered.verify(smartmeter.SignedReading.from_json(case["json"])))
    # The signed reading travels as its JSON: change a value in place.
    assert data.count(b'"wh_imported":1200,') == 1
    tampered = data.replace(b'"wh_imported":1200,', b'"wh_imported":1201,')
    with pytest.raises(smartmeter.InvalidSignature) as raised:
        pickle.loads(tampered)
    assert raised.value.code == "invalid_signature"


class Forged:
    """Pickles as a call of VerifiedReading's constructor with a key of its choice."""

    def __init__(self, key: smartmeter.PublicKey, signed: smartmeter.SignedReading) -> None:
        self.args = (key, signed)

    def __reduce__(self) -> tuple[Any, tuple[smartmeter.PublicKey, smartmeter.SignedReading]]:
        return (smartmeter.PublicKey.verify, self.args)


def test_a_pickle_cannot_pass_a_reading_off_as_verified_by_another_key() -> None:
    a = next(c for c in VALID if c["name"] == "rsa2048-basic")
    b = next(c for c in VALID if c["name"] == "rsa2048-second-meter")
    signed = smartmeter.SignedReading.from_json(a["json"])
    other = smartmeter.PublicKey.from_pem(b["public_key_pem"])
    with pytest.raises(smartmeter.KeyMismatch):
        pickle.loads(pickle.dumps(Forged(other, signed)))
    verified = pickle.loads(pickle.dumps(Forged(signed.public_key, signed)))
    assert isinstance(verified, smartmeter.VerifiedReading) and verified.key_id == a["key_id"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_meter_key_refuses_to_pickle_and_round_trips_through_pem(protocol: int) -> None:
    key = smartmeter.MeterKey.from_pem(VALID[0]["private_key_pem"])
    with pytest.raises(TypeError, match=r"cannot pickle a MeterKey.*key\.to_pem\(\).*MeterKey\.from_pem\(\)"):
        pickle.dumps(key, protocol)
    with pytest.raises(TypeError, match="cannot pickle a MeterKey"):
        pickle.dumps({"meter": [key]}, protocol)
    again = smartmeter.MeterKey.from_pem(round_trip(key.to_pem(), protocol))
    reading = {"sequence": 1, "timestamp_ms": 2, "wh_imported": 3, "wh_exported": 4}
    assert again.key_id == key.key_id and again.sign(**reading) == key.sign(**reading)


def test_a_meter_key_copies_as_itself() -> None:
    key = smartmeter.MeterKey.from_pem(VALID[0]["private_key_pem"])
    assert copy.copy(key) is key
    assert copy.deepcopy({"meter": [key]})["meter"][0] is key


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("case", POLICY, ids=[c["name"] for c in POLICY])
def test_audit_reports_and_findings_pickle_to_equal_objects(case: dict[str, Any], protocol: int) -> None:
    registered = smartmeter.PublicKey.from_pem(case["public_key_pem"])
    report = smartmeter.audit([registered.verify(smartmeter.SignedReading.from_json(s["json"])) for s in case["steps"]])
    again = round_trip(report, protocol)
    assert type(again) is smartmeter.AuditReport
    assert again == report
    assert (again.to_json(), repr(again), again.findings) == (report.to_json(), repr(report), report.findings)
    for finding in report.findings:
        assert round_trip(finding, protocol) == finding
        assert repr(round_trip(finding, protocol)) == repr(finding)


def test_an_empty_audit_report_pickles() -> None:
    report = smartmeter.audit([])
    assert round_trip(report) == report and round_trip(report).key_id is None


@pytest.mark.parametrize("case", INVALID, ids=[c["name"] for c in INVALID])
def test_every_raised_exception_pickles_with_its_class_code_and_family(case: dict[str, Any]) -> None:
    with pytest.raises(smartmeter.SmartMeterError) as raised:
        run_invalid(case)
    again = round_trip(raised.value)
    assert type(again) is type(raised.value)
    assert (again.code, again.family, str(again)) == (raised.value.code, raised.value.family, str(raised.value))


def test_objects_and_errors_cross_process_boundaries() -> None:
    case = next(c for c in POLICY if c["name"] == "late-fill-narrows-gap")
    registered = smartmeter.PublicKey.from_pem(case["public_key_pem"])
    signed = [smartmeter.SignedReading.from_json(s["json"]) for s in case["steps"]]
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork")) as pool:
        verified = [pool.submit(smartmeter.PublicKey.verify, registered, s).result() for s in signed]
        assert verified == [registered.verify(s) for s in signed]
        assert pool.submit(smartmeter.audit, verified).result() == smartmeter.audit(verified)
        with pytest.raises(smartmeter.MalformedReading) as raised:
            pool.submit(smartmeter.SignedReading.from_json, "{}").result()
        assert raised.value.code == "malformed_json"
