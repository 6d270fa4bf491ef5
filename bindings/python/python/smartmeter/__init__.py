"""Sign and verify smart-meter readings.

The Python face of ``smartmeter-core``, the one implementation of the
SmartMeters specification (``docs/spec.md``): the canonical bytes a meter
signs, the key policy, RSASSA-PKCS1-v1_5 with SHA-256, and the JSON wire form.

>>> import smartmeter
>>> key = smartmeter.MeterKey.generate()
>>> signed = key.sign(sequence=1, timestamp_ms=1764000000000, wh_imported=1200, wh_exported=30)
>>> reading = smartmeter.SignedReading.from_json(signed.to_json())
>>> key.public_key().verify(reading).wh_imported
1200

Every error is a :class:`SmartMeterError` (a ``ValueError``) whose ``.code``
is the stable error code of the specification.

:func:`audit` checks a meter's whole history from verified readings alone:

>>> second = key.sign(sequence=3, timestamp_ms=1764000060000, wh_imported=1210, wh_exported=30)
>>> report = smartmeter.audit([key.public_key().verify(s) for s in (signed, second)])
>>> [(f.code, f.first_missing, f.last_missing) for f in report.findings]
[('gap', 2, 2)]
"""

from typing import Union

from smartmeter._smartmeter import (
    ERROR_CATALOGUE as ERROR_CATALOGUE,
    ERROR_CODES as ERROR_CODES,
    FINDING_CODES as FINDING_CODES,
    MAX_JSON_LEN as MAX_JSON_LEN,
    MAX_KEY_BITS as MAX_KEY_BITS,
    MESSAGE_LEN as MESSAGE_LEN,
    MIN_KEY_BITS as MIN_KEY_BITS,
    AuditError as AuditError,
    AuditReport as AuditReport,
    ConflictFinding as ConflictFinding,
    DuplicateFinding as DuplicateFinding,
    GapFinding as GapFinding,
    InvalidKey as InvalidKey,
    InvalidSignature as InvalidSignature,
    KeyMismatch as KeyMismatch,
    LateFinding as LateFinding,
    MalformedReading as MalformedReading,
    Message as Message,
    MeterKey as MeterKey,
    PublicKey as PublicKey,
    RegisterDecreasedFinding as RegisterDecreasedFinding,
    SignedReading as SignedReading,
    SigningError as SigningError,
    SmartMeterError as SmartMeterError,
    TimestampBackwardsFinding as TimestampBackwardsFinding,
    VerificationError as VerificationError,
    VerifiedReading as VerifiedReading,
    __version__ as __version__,
    audit as audit,
)

Finding = Union[
    GapFinding,
    DuplicateFinding,
    ConflictFinding,
    TimestampBackwardsFinding,
    RegisterDecreasedFinding,
    LateFinding,
]
"""Any finding of an :class:`AuditReport`; ``.code`` tells which (docs/spec.md, section 3.4)."""

__all__ = [
    "ERROR_CATALOGUE",
    "ERROR_CODES",
    "FINDING_CODES",
    "MAX_JSON_LEN",
    "MAX_KEY_BITS",
    "MESSAGE_LEN",
    "MIN_KEY_BITS",
    "AuditError",
    "AuditReport",
    "ConflictFinding",
    "DuplicateFinding",
    "Finding",
    "GapFinding",
    "InvalidKey",
    "InvalidSignature",
    "KeyMismatch",
    "LateFinding",
    "MalformedReading",
    "Message",
    "MeterKey",
    "PublicKey",
    "RegisterDecreasedFinding",
    "SignedReading",
    "SigningError",
    "SmartMeterError",
    "TimestampBackwardsFinding",
    "VerificationError",
    "VerifiedReading",
    "__version__",
    "audit",
]
