"""smartmeter.audit against docs/vectors/policy.json, and its typed report."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest

import smartmeter
from conftest import POLICY, VALID, spec_table

FINDING_CLASSES = typing.get_args(smartmeter.Finding)


def verified_series(case: dict[str, Any]) -> list[smartmeter.VerifiedReading]:
    """Every step's reading, verified against the case's registered key, in arrival order."""
    registered = smartmeter.PublicKey.from_pem(case["public_key_pem"])
    assert registered.key_id == case["key_id"]
    return [registered.verify(smartmeter.SignedReading.from_json(step["json"])) for step in case["steps"]]


@pytest.mark.parametrize("case", POLICY, ids=[c["name"] for c in POLICY])
def test_every_policy_series_audits_to_its_expected_report(case: dict[str, Any]) -> None:
    expected = case["expected_report"]
    report = smartmeter.audit(verified_series(case))
    assert json.loads(report.to_json()) == expected
    assert report.key_id == expected["key_id"] == case["key_id"]
    assert report.readings == expected["readings"] == len(case["steps"])
    assert report.lowest_sequence == expected["lowest_sequence"]
    assert report.highest_sequence == expected["highest_sequence"]
    assert len(report.findings) == len(expected["findings"])
    for finding, want in zip(report.findings, expected["findings"]):
        assert isinstance(finding, FINDING_CLASSES)
        # Every member of the JSON form is a typed attribute with the same value.
        for name, value in want.items():
            assert getattr(finding, name) == value, (name, finding)
        assert repr(finding).startswith(type(finding).__name__ + "(")


def test_each_finding_class_has_one_code_and_together_they_cover_the_codes() -> None:
    code_of_class: dict[type, set[str]] = {}
    for case in POLICY:
        for finding in smartmeter.audit(verified_series(case)).findings:
            code_of_class.setdefault(type(finding), set()).add(finding.code)
    assert set(code_of_class) == set(FINDING_CLASSES)
    assert all(len(codes) == 1 for codes in code_of_class.values())
    assert sorted(c for codes in code_of_class.values() for c in codes) == sorted(smartmeter.FINDING_CODES)


def test_the_finding_codes_are_the_ones_of_the_spec() -> None:
    rows = spec_table("### 3.4 Audit report", "| code | meaning |")
    assert tuple(r[0] for r in rows) == smartmeter.FINDING_CODES


def test_the_gateway_burst_shows_49_late_readings_and_no_gap() -> None:
    case = next(c for c in POLICY if c["name"] == "gateway-burst-reversed")
    report = smartmeter.audit(verified_series(case))
    assert report.readings == 51
    assert all(isinstance(f, smartmeter.LateFinding) for f in report.findings)
    late = [f for f in report.findings if isinstance(f, smartmeter.LateFinding)]
    assert [f.sequence for f in late] == list(range(2, 51))
    assert {f.after for f in late} == {1}


def test_an_empty_list_gives_an_empty_report() -> None:
    report = smartmeter.audit([])
    assert (report.key_id, report.readings, report.lowest_sequence, report.highest_sequence) == (None, 0, None, None)
    assert report.findings == ()
    assert json.loads(report.to_json())["findings"] == []


def test_readings_of_two_meters_raise_audit_error() -> None:
    a = next(c for c in VALID if c["name"] == "rsa2048-basic")
    b = next(c for c in VALID if c["name"] == "rsa2048-second-meter")
    readings = [
        smartmeter.PublicKey.from_pem(c["public_key_pem"]).verify(smartmeter.SignedReading.from_json(c["json"]))
        for c in (a, a, b)
    ]
    with pytest.raises(smartmeter.AuditError) as raised:
        smartmeter.audit(readings)
    assert raised.value.code == "mixed_meters"
    assert isinstance(raised.value, smartmeter.SmartMeterError)
    assert isinstance(raised.value, ValueError)
    assert "reading 2" in str(raised.value)


def test_only_verified_readings_are_audited() -> None:
    signed = smartmeter.SignedReading.from_json(VALID[0]["json"])
    for bad in ([signed], [1], "not a list", None):
        with pytest.raises(TypeError):
            smartmeter.audit(bad)  # type: ignore[arg-type]


def test_reports_compare_equal_and_read_well() -> None:
    case = next(c for c in POLICY if c["name"] == "late-fill-narrows-gap")
    readings = verified_series(case)
    report = smartmeter.audit(readings)
    assert report == smartmeter.audit(readings)
    assert report != smartmeter.audit(readings[:2])
    assert repr(report).startswith(f"AuditReport(key_id='{case['key_id']}', readings=5,")
    gap = report.findings[0]
    assert isinstance(gap, smartmeter.GapFinding)
    assert repr(gap) == "GapFinding(first_missing=2, last_missing=2, missing=1, previous=0, next=2)"
    assert gap == smartmeter.audit(readings).findings[0]
