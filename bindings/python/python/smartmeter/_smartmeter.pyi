"""Type stubs of the extension module ``smartmeter._smartmeter``.

Everything here is re-exported by the package ``smartmeter``; import it from
there. Checked against the built module by ``mypy.stubtest``.
"""

from collections.abc import Sequence
from typing import ClassVar, Final, Literal, Union, final

__all__ = [
    "__version__",
    "ERROR_CODES",
    "ERROR_CATALOGUE",
    "FINDING_CODES",
    "MESSAGE_LEN",
    "MIN_KEY_BITS",
    "MAX_KEY_BITS",
    "MAX_JSON_LEN",
    "MeterKey",
    "PublicKey",
    "SignedReading",
    "VerifiedReading",
    "Message",
    "SmartMeterError",
    "MalformedReading",
    "InvalidKey",
    "VerificationError",
    "InvalidSignature",
    "KeyMismatch",
    "SigningError",
    "AuditError",
    "audit",
    "AuditReport",
    "GapFinding",
    "DuplicateFinding",
    "ConflictFinding",
    "TimestampBackwardsFinding",
    "RegisterDecreasedFinding",
    "LateFinding",
]

__version__: Final[str]
"""The package version, the Cargo version of the crate."""

ERROR_CODES: Final[tuple[str, ...]]
"""Every error code the core produces (docs/spec.md, section Errors), in catalogue order."""

ERROR_CATALOGUE: Final[tuple[tuple[str, str, str], ...]]
"""The core's error catalogue: ``(code, family, meaning)`` for every code, in the order of ERROR_CODES."""

FINDING_CODES: Final[tuple[str, ...]]
"""The finding codes of an audit report (docs/spec.md, section 3.4), in report order."""

MESSAGE_LEN: Final[int]
"""Length of a canonical message in bytes (82)."""

MIN_KEY_BITS: Final[int]
"""Smallest accepted RSA modulus in bits (2048)."""

MAX_KEY_BITS: Final[int]
"""Largest accepted RSA modulus in bits (4096)."""

MAX_JSON_LEN: Final[int]
"""Longest accepted JSON wire form in bytes (4096)."""

class SmartMeterError(ValueError):
    """Base class of every error of this library; ``.code`` is the stable error code."""

    code: str
    """The stable error code (docs/spec.md, section Errors), e.g. ``"invalid_signature"``."""

class MalformedReading(SmartMeterError):
    """A signed reading (JSON) or canonical message (bytes) is malformed.

    Codes: ``reading_too_large``, ``malformed_json``, ``malformed_base64``,
    ``unsupported_version``, ``unsupported_algorithm``, ``wrong_length``,
    ``unknown_tag``.
    """

class InvalidKey(SmartMeterError):
    """A key is malformed or outside the key policy, or could not be generated.

    Codes: ``malformed_key``, ``unsupported_key_type``, ``key_too_small``,
    ``key_too_large``, ``unsupported_exponent``, ``unsupported_key_size``,
    ``key_generation_failed``.
    """

class VerificationError(SmartMeterError):
    """A signed reading failed verification: base of InvalidSignature and KeyMismatch."""

class InvalidSignature(VerificationError):
    """The signature does not match the reading and the key (``invalid_signature``)."""

class KeyMismatch(VerificationError):
    """The reading names another key than the one it was verified with (``key_mismatch``)."""

class SigningError(SmartMeterError):
    """The private-key operation failed (``signing_failed``)."""

class AuditError(SmartMeterError):
    """The readings given to ``audit`` are not one meter's (``mixed_meters``)."""

@final
class PublicKey:
    """A meter's RSA public key, checked against the key policy.

    RSA, 2048 to 4096 bits, exponent 65537, canonical DER. Equal keys compare
    equal and hash alike.
    """

    @staticmethod
    def from_text(data: str | bytes | bytearray) -> PublicKey:
        """Parse key text as OpenSSL and pyca/cryptography write it.

        A ``-----BEGIN PUBLIC KEY-----`` PEM document, or base64 of the DER on
        one line or wrapped at 64 columns; LF or CRLF line endings, the last
        one optional; at most 8192 bytes. Raises InvalidKey
        (``malformed_key_text``, ``key_text_too_large`` or a key policy code).
        """

    @staticmethod
    def from_pem(data: str | bytes | bytearray) -> PublicKey:
        """Parse a ``-----BEGIN PUBLIC KEY-----`` PEM document (the PEM form of ``from_text``). Raises InvalidKey."""

    @staticmethod
    def from_der(data: bytes) -> PublicKey:
        """Parse a SubjectPublicKeyInfo in DER. Raises InvalidKey."""

    @staticmethod
    def from_base64(data: str | bytes | bytearray) -> PublicKey:
        """Parse standard padded base64 of the SubjectPublicKeyInfo DER. Raises InvalidKey."""

    def to_pem(self) -> str:
        """The key as a ``PUBLIC KEY`` PEM document with ``\\n`` line endings."""

    def to_der(self) -> bytes:
        """The SubjectPublicKeyInfo DER, exactly the bytes the key id hashes."""

    def to_base64(self) -> str:
        """The DER in standard padded base64, as carried in JSON."""

    @property
    def key_id(self) -> str:
        """The key id: SHA-256 of the DER, as 64 lowercase hex digits."""

    @property
    def bits(self) -> int:
        """The modulus length in bits."""

    def verify(self, signed: SignedReading) -> VerifiedReading:
        """Verify a signed reading against this key and return the verified reading.

        Raises InvalidKey when the reading names another key and carries a key
        outside the key policy, KeyMismatch when it names another key,
        InvalidSignature when the signature does not verify. Releases the GIL.
        """

    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class MeterKey:
    """A meter's RSA private key: signs readings. Its repr shows no private material."""

    @staticmethod
    def generate(bits: int = 2048) -> MeterKey:
        """Generate a new key (2048 to 4096 bits). Raises InvalidKey. Releases the GIL."""

    @staticmethod
    def from_pem(data: str | bytes | bytearray) -> MeterKey:
        """Parse an unencrypted PKCS#8 ``-----BEGIN PRIVATE KEY-----`` PEM document. Raises InvalidKey."""

    @staticmethod
    def from_der(data: bytes) -> MeterKey:
        """Parse an unencrypted PKCS#8 PrivateKeyInfo in DER. Raises InvalidKey."""

    def to_pem(self) -> str:
        """The key as an unencrypted PKCS#8 PEM document. Store it like a secret."""

    def to_der(self) -> bytes:
        """The key as unencrypted PKCS#8 DER. Store it like a secret."""

    def public_key(self) -> PublicKey:
        """The matching public key, the one to register for this meter."""

    @property
    def key_id(self) -> str:
        """The id of the matching public key (64 lowercase hex digits)."""

    def sign(
        self, *, sequence: int, timestamp_ms: int, wh_imported: int, wh_exported: int
    ) -> SignedReading:
        """Sign a reading; every value is an integer from 0 to 2**64-1.

        Out-of-range integers raise OverflowError. Raises SigningError if the
        RSA operation fails. Deterministic. Releases the GIL.
        """

@final
class SignedReading:
    """A reading with its signature and public key, not yet verified."""

    @staticmethod
    def from_json(data: str | bytes | bytearray) -> SignedReading:
        """Parse the JSON wire form strictly (the carried key is parsed only when needed). Raises MalformedReading."""

    def to_json(self) -> str:
        """The JSON wire form: compact, fields in specification order."""

    def canonical_bytes(self) -> bytes:
        """The canonical message bytes (82): what the signature covers."""

    @property
    def sequence(self) -> int:
        """Per-meter counter (unverified)."""

    @property
    def timestamp_ms(self) -> int:
        """Milliseconds since the Unix epoch, UTC (unverified)."""

    @property
    def wh_imported(self) -> int:
        """Cumulative energy imported from the grid, in Wh (unverified)."""

    @property
    def wh_exported(self) -> int:
        """Cumulative energy exported to the grid, in Wh (unverified)."""

    @property
    def algorithm(self) -> int:
        """The signature algorithm id (1: RSASSA-PKCS1-v1_5 with SHA-256)."""

    @property
    def public_key(self) -> PublicKey:
        """The public key the reading carries (not necessarily a registered one).

        Parsed on access; raises InvalidKey when it is outside the key policy.
        """

    @property
    def key_id(self) -> str:
        """The id of the carried public key (64 lowercase hex digits)."""

    @property
    def signature(self) -> bytes:
        """The signature bytes."""

    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class VerifiedReading:
    """A reading whose signature was checked against a public key."""

    @property
    def sequence(self) -> int:
        """Per-meter counter."""

    @property
    def timestamp_ms(self) -> int:
        """Milliseconds since the Unix epoch, UTC."""

    @property
    def wh_imported(self) -> int:
        """Cumulative energy imported from the grid, in Wh."""

    @property
    def wh_exported(self) -> int:
        """Cumulative energy exported to the grid, in Wh."""

    @property
    def algorithm(self) -> int:
        """The signature algorithm id."""

    @property
    def key_id(self) -> str:
        """The id of the key that signed the reading (64 lowercase hex digits)."""

    @property
    def signed(self) -> SignedReading:
        """The signed reading that was verified, to store or forward."""

    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Message:
    """A decoded canonical message: the 82 bytes a signature covers."""

    @staticmethod
    def from_bytes(data: bytes) -> Message:
        """Decode canonical bytes (exactly one message). Raises MalformedReading."""

    def to_bytes(self) -> bytes:
        """The canonical bytes."""

    @property
    def algorithm(self) -> int:
        """The signature algorithm id."""

    @property
    def key_id(self) -> str:
        """The id of the signing key (64 lowercase hex digits)."""

    @property
    def sequence(self) -> int:
        """Per-meter counter."""

    @property
    def timestamp_ms(self) -> int:
        """Milliseconds since the Unix epoch, UTC."""

    @property
    def wh_imported(self) -> int:
        """Cumulative energy imported from the grid, in Wh."""

    @property
    def wh_exported(self) -> int:
        """Cumulative energy exported to the grid, in Wh."""

    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

def audit(readings: Sequence[VerifiedReading]) -> AuditReport:
    """Audit verified readings of one meter, in any order (normally arrival order).

    Raises AuditError (``mixed_meters``) for readings of more than one key,
    TypeError for an item that is not a VerifiedReading. Releases the GIL.
    """

@final
class GapFinding:
    """Sequence numbers ``first_missing..=last_missing`` are missing (code ``gap``)."""

    @property
    def code(self) -> Literal["gap"]:
        """The finding code."""

    @property
    def first_missing(self) -> int:
        """The lowest missing sequence number."""

    @property
    def last_missing(self) -> int:
        """The highest missing sequence number."""

    @property
    def missing(self) -> int:
        """How many sequence numbers are missing."""

    @property
    def previous(self) -> int:
        """Index of the reading just below the gap."""

    @property
    def next(self) -> int:
        """Index of the reading just above the gap."""

    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class DuplicateFinding:
    """The reading at ``index`` repeats the one at ``original`` (code ``duplicate``)."""

    @property
    def code(self) -> Literal["duplicate"]:
        """The finding code."""

    @property
    def sequence(self) -> int:
        """The sequence number of both."""

    @property
    def index(self) -> int:
        """Index of the repeat."""

    @property
    def original(self) -> int:
        """Index of the earliest reading with the same values."""

    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class ConflictFinding:
    """Two different readings with one sequence number: the key signed twice (code ``conflict``)."""

    @property
    def code(self) -> Literal["conflict"]:
        """The finding code."""

    @property
    def sequence(self) -> int:
        """The sequence number both carry."""

    @property
    def index(self) -> int:
        """Index of the conflicting reading."""

    @property
    def first(self) -> int:
        """Index of the first reading with this sequence number."""

    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class TimestampBackwardsFinding:
    """A timestamp before that of the next lower sequence number (code ``timestamp_backwards``)."""

    @property
    def code(self) -> Literal["timestamp_backwards"]:
        """The finding code."""

    @property
    def sequence(self) -> int:
        """The sequence number of the reading at ``index``."""

    @property
    def index(self) -> int:
        """Index of the reading whose timestamp is too early."""

    @property
    def previous(self) -> int:
        """Index of the reading with the next lower sequence number."""

    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class RegisterDecreasedFinding:
    """A register lower than at the next lower sequence number (code ``register_decreased``)."""

    @property
    def code(self) -> Literal["register_decreased"]:
        """The finding code."""

    @property
    def register(self) -> Literal["wh_imported", "wh_exported"]:
        """Which register decreased."""

    @property
    def sequence(self) -> int:
        """The sequence number of the reading at ``index``."""

    @property
    def index(self) -> int:
        """Index of the reading whose register is lower."""

    @property
    def previous(self) -> int:
        """Index of the reading with the next lower sequence number."""

    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class LateFinding:
    """A reading that arrived after a higher sequence number (code ``late``)."""

    @property
    def code(self) -> Literal["late"]:
        """The finding code."""

    @property
    def sequence(self) -> int:
        """The sequence number of the late reading."""

    @property
    def index(self) -> int:
        """Index of the late reading."""

    @property
    def after(self) -> int:
        """Index of the first reading with the highest sequence number that arrived before it."""

    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

_Finding = Union[
    GapFinding,
    DuplicateFinding,
    ConflictFinding,
    TimestampBackwardsFinding,
    RegisterDecreasedFinding,
    LateFinding,
]

@final
class AuditReport:
    """What ``audit`` found in a list of readings of one meter (docs/spec.md, section 3.4)."""

    @property
    def key_id(self) -> str | None:
        """The key id of the readings (64 lowercase hex digits); None for an empty list."""

    @property
    def readings(self) -> int:
        """How many readings the list holds, repeats included."""

    @property
    def lowest_sequence(self) -> int | None:
        """The lowest sequence number present; None for an empty list."""

    @property
    def highest_sequence(self) -> int | None:
        """The highest sequence number present; None for an empty list."""

    @property
    def findings(self) -> tuple[_Finding, ...]:
        """Every irregularity, in the report's order (by code, then sequence number)."""

    def to_json(self) -> str:
        """The report as compact JSON (docs/spec.md, section 3.4)."""

    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]
