"""The exceptions of ``smartmeter``: one class per error family, each a ``ValueError`` carrying its code.

Every error of the library is a :class:`SmartMeterError` made as
``cls(message, code)``: ``str(error)`` is the message, ``error.code`` the
stable code of the specification (``docs/spec.md``, section 11) and
``error.family`` its family, both read-only. ``args`` is
``(message, code)``, so an error pickles and unpickles with its code, as
every ``BaseException`` does.

The classes are written in Python, as jsonschema-rs writes its
``ValidationError``, rather than as pyo3 classes extending ``ValueError``
(pydantic-core's way): the wheel is one abi3 build for CPython 3.9 and later,
and pyo3 can extend a built-in exception only from the 3.12 stable ABI on.
The extension module raises them (``bindings/python/src/errors.rs``, its one
conversion from the core's errors) and picks the class by the code's family.
"""

from __future__ import annotations

from smartmeter._smartmeter import ERROR_CATALOGUE

_FAMILY_OF_CODE = {code: family for code, family, _ in ERROR_CATALOGUE}


class SmartMeterError(ValueError):
    """Base class of every error of this library; ``.code`` is the stable error code (docs/spec.md, section 11)."""

    def __init__(self, message: str, code: str) -> None:
        family = _FAMILY_OF_CODE.get(code)
        if family is None:
            raise ValueError(f"{code!r} is not an error code of smartmeter (see smartmeter.ERROR_CODES)")
        super().__init__(message, code)
        self._message = message
        self._code = code
        self._family = family

    @property
    def code(self) -> str:
        """The stable error code (docs/spec.md, section 11), e.g. ``"invalid_signature"``."""
        return self._code

    @property
    def family(self) -> str:
        """The family of the code in the error catalogue, e.g. ``"verify"`` (``smartmeter.ERROR_CATALOGUE``)."""
        return self._family

    def __str__(self) -> str:
        return self._message


class MalformedReading(SmartMeterError):
    """A signed reading (JSON) or canonical message (bytes) is malformed.

    Codes: ``reading_too_large``, ``malformed_json``, ``malformed_base64``,
    ``unsupported_version``, ``unsupported_algorithm``, ``wrong_length``,
    ``unknown_tag``.
    """


class InvalidKey(SmartMeterError):
    """A key is malformed or outside the key policy, or could not be generated.

    Codes: ``malformed_key``, ``unsupported_key_type``, ``key_too_small``,
    ``key_too_large``, ``unsupported_exponent``, ``unsupported_curve``,
    ``compressed_point``, ``key_text_too_large``, ``malformed_key_text``,
    ``unsupported_key_size``, ``unsupported_key_spec``,
    ``key_generation_failed``.
    """


class VerificationError(SmartMeterError):
    """A signed reading failed verification: base of InvalidSignature and KeyMismatch."""


class InvalidSignature(VerificationError):
    """The signature is not accepted.

    Codes: ``invalid_signature`` (it does not verify), ``high_s`` and
    ``der_signature`` (a P-256 signature with a high S, or in DER form), and
    ``algorithm_mismatch`` (the reading's algorithm is not its key's).
    """


class KeyMismatch(VerificationError):
    """The reading names another key than the one it was verified with (``key_mismatch``)."""


class SigningError(SmartMeterError):
    """The private-key operation failed (``signing_failed``)."""


class AuditError(SmartMeterError):
    """The readings given to ``audit`` are not one meter's (``mixed_meters``)."""


# Pickled and shown under the package that exports them.
for _cls in (
    SmartMeterError,
    MalformedReading,
    InvalidKey,
    VerificationError,
    InvalidSignature,
    KeyMismatch,
    SigningError,
    AuditError,
):
    _cls.__module__ = "smartmeter"
del _cls
