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
"""

from smartmeter._smartmeter import (
    ERROR_CODES as ERROR_CODES,
    MAX_JSON_LEN as MAX_JSON_LEN,
    MAX_KEY_BITS as MAX_KEY_BITS,
    MESSAGE_LEN as MESSAGE_LEN,
    MIN_KEY_BITS as MIN_KEY_BITS,
    InvalidKey as InvalidKey,
    InvalidSignature as InvalidSignature,
    KeyMismatch as KeyMismatch,
    MalformedReading as MalformedReading,
    Message as Message,
    MeterKey as MeterKey,
    PublicKey as PublicKey,
    SignedReading as SignedReading,
    SigningError as SigningError,
    SmartMeterError as SmartMeterError,
    VerificationError as VerificationError,
    VerifiedReading as VerifiedReading,
    __version__ as __version__,
)

__all__ = [
    "ERROR_CODES",
    "MAX_JSON_LEN",
    "MAX_KEY_BITS",
    "MESSAGE_LEN",
    "MIN_KEY_BITS",
    "InvalidKey",
    "InvalidSignature",
    "KeyMismatch",
    "MalformedReading",
    "Message",
    "MeterKey",
    "PublicKey",
    "SignedReading",
    "SigningError",
    "SmartMeterError",
    "VerificationError",
    "VerifiedReading",
    "__version__",
]
