//! [`ReadingsVerifier`]: verification of many readings of one meter in two
//! halves around the signature arithmetic.
//!
//! 1. [`ReadingsVerifier::prepare`] does everything but the arithmetic, for
//!    a whole list at once: it takes the parsed readings (or their parse
//!    errors), finds readings it already holds, checks that each reading
//!    names the registered key and that its signature has the right length
//!    ([`PublicKey::verify`]'s checks), and lays out the canonical messages
//!    and signatures left to check in two buffers ([`Prepared`]).
//! 2. The caller checks those signatures where it likes, for example with
//!    WebCrypto's `crypto.subtle.verify` ([`webcrypto`](super::webcrypto)
//!    says with which parameters), and gives a [`Verdict`] for each.
//! 3. [`ReadingsVerifier::conclude`] records the verdicts, doing every check
//!    without a verdict itself ([`Verdict::Unchecked`]), and returns an
//!    [`Outcome`]; [`ReadingsVerifier::audit`] audits what it holds.
//!
//! The verifier holds a **set**: a reading identical in every byte to one
//! it already holds (the same reading fetched again) is a repeat of that
//! entry, not a new one. A dashboard that reloads a range therefore keeps
//! the evidence it has seen: when the server now returns *another* signed
//! reading for a sequence number it served before, the audit shows a
//! conflict between the two.
//!
//! ```
//! use smartmeter_core::ffi::{self, ReadingsVerifier, Verdict};
//!
//! # let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/vectors/valid.json")).unwrap()).unwrap();
//! # let case = &doc["cases"][0];
//! # let (wire, registered_key) = (case["json"].as_str().unwrap(), case["public_key_pem"].as_str().unwrap());
//! let mut verifier = ReadingsVerifier::new(ffi::input::key_from_text(registered_key)?);
//! let page = vec![ffi::input::reading_from_text(wire), ffi::input::reading_from_text("{}")];
//! let prepared = verifier.prepare(page);
//! assert_eq!(prepared.checks(), 1); // the second reading failed to parse
//! // Here WebCrypto would check prepared.message(0) and prepared.signature(0).
//! let outcome = verifier.conclude(prepared, &[Verdict::Unchecked]); // the core checks it
//! assert_eq!((outcome.verified, outcome.failures.len()), (1, 1));
//! assert_eq!(verifier.audit().readings, 1);
//! # Ok::<(), ffi::FfiError>(())
//! ```

use std::collections::HashMap;
use std::ops::Range;

use serde::Serialize;

use super::FfiError;
use super::output::{AuditReportOut, as_u32, as_u32s};
use crate::audit::audit_readings;
use crate::error::VerifyError;
use crate::{Algorithm, KeyId, MESSAGE_LEN, PublicKey, Reading, SignedReading};

/// What a platform verifier found for one signature of a [`Prepared`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The signature verifies.
    Valid,
    /// The signature does not verify.
    Invalid,
    /// Not checked (the platform verifier is missing or failed): the core
    /// checks it itself in [`ReadingsVerifier::conclude`].
    Unchecked,
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Its signature is being checked.
    Pending,
    /// Verified against the registered key.
    Verified,
    /// Parsed, but it failed verification: its values are unauthenticated.
    Failed,
    /// It did not parse: no values.
    Unparsed,
}

impl EntryStatus {
    /// A small number for compact columns: 0 verified, 1 failed, 2 unparsed,
    /// 3 pending.
    pub const fn id(self) -> u8 {
        match self {
            Self::Verified => 0,
            Self::Failed => 1,
            Self::Unparsed => 2,
            Self::Pending => 3,
        }
    }
}

/// One distinct reading the verifier holds.
#[derive(Debug, Clone)]
struct Entry {
    status: EntryStatus,
    /// The values; all zero for an unparsed entry.
    reading: Reading,
    algorithm: Option<Algorithm>,
    /// The signature, in the arena (parsed entries only).
    signature: Option<SignatureRef>,
    /// The next entry with the same sequence number, to find repeats.
    next_same: Option<usize>,
}

/// Signatures of all entries, in chunks so that holding many never copies
/// them all again to grow.
#[derive(Debug, Default)]
struct Signatures {
    chunks: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SignatureRef {
    chunk: usize,
    start: usize,
    len: usize,
}

impl Signatures {
    const CHUNK: usize = 1 << 20;

    fn push(&mut self, bytes: &[u8]) -> SignatureRef {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= bytes.len());
        if !fits {
            self.chunks
                .push(Vec::with_capacity(Self::CHUNK.max(bytes.len())));
        }
        let chunk = self.chunks.len() - 1;
        let start = self.chunks.last().map_or(0, Vec::len);
        if let Some(c) = self.chunks.last_mut() {
            c.extend_from_slice(bytes);
        }
        SignatureRef {
            chunk,
            start,
            len: bytes.len(),
        }
    }

    fn get(&self, at: SignatureRef) -> Option<&[u8]> {
        self.chunks.get(at.chunk)?.get(at.start..at.start + at.len)
    }
}

/// Verifies many readings of one meter against its registered key; see the
/// [module documentation](self).
#[derive(Debug)]
pub struct ReadingsVerifier {
    key: PublicKey,
    entries: Vec<Entry>,
    signatures: Signatures,
    /// The first entry of each sequence number (chained by `next_same`).
    by_sequence: HashMap<u64, usize>,
    /// Why each failed or unparsed entry failed.
    failures: HashMap<usize, FfiError>,
    /// The carried key id of parsed entries whose key id is not the
    /// registered key's (they failed; kept to tell repeats apart).
    foreign_keys: HashMap<usize, KeyId>,
}

/// One signature left to check: the entry it decides, and the reading, for
/// the core to check itself without a verdict.
#[derive(Debug)]
struct Check {
    entry: usize,
    signed: SignedReading,
}

/// A list of readings between the two halves: the canonical messages and
/// signatures left to check, in two buffers ([`messages`](Self::messages),
/// [`signatures`](Self::signatures)) so that a binding copies each across
/// once.
#[derive(Debug)]
pub struct Prepared {
    /// Per input reading: its entry, and whether it is a repeat.
    slots: Vec<(usize, bool)>,
    /// The entries this list added.
    added: Range<usize>,
    checks: Vec<Check>,
    messages: Vec<u8>,
    signatures: Vec<u8>,
    /// `signatures[bounds[i]..bounds[i + 1]]` is the `i`-th signature.
    bounds: Vec<usize>,
}

impl Prepared {
    /// How many signatures are left to check.
    pub fn checks(&self) -> usize {
        self.checks.len()
    }

    /// The canonical messages of all checks, [`MESSAGE_LEN`] bytes each, in
    /// check order.
    pub fn messages(&self) -> &[u8] {
        &self.messages
    }

    /// The byte range of the `i`-th message in [`messages`](Self::messages).
    pub fn message_range(&self, i: usize) -> Option<Range<usize>> {
        (i < self.checks.len()).then(|| i * MESSAGE_LEN..(i + 1) * MESSAGE_LEN)
    }

    /// The `i`-th canonical message.
    pub fn message(&self, i: usize) -> Option<&[u8]> {
        self.messages.get(self.message_range(i)?)
    }

    /// The signatures of all checks, one after another, in check order.
    pub fn signatures(&self) -> &[u8] {
        &self.signatures
    }

    /// The byte range of the `i`-th signature in [`signatures`](Self::signatures).
    pub fn signature_range(&self, i: usize) -> Option<Range<usize>> {
        Some(*self.bounds.get(i)?..*self.bounds.get(i + 1)?)
    }

    /// The `i`-th signature.
    pub fn signature(&self, i: usize) -> Option<&[u8]> {
        self.signatures.get(self.signature_range(i)?)
    }

    /// The algorithm of the `i`-th check.
    pub fn algorithm(&self, i: usize) -> Option<Algorithm> {
        self.checks.get(i).map(|c| c.signed.algorithm())
    }
}

/// A failed reading of an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureOut {
    /// Its entry.
    #[serde(serialize_with = "as_u32")]
    pub entry: usize,
    /// Its index in the list given to [`ReadingsVerifier::prepare`].
    #[serde(serialize_with = "as_u32")]
    pub input: usize,
    /// `failed` (its values are known, unauthenticated) or `unparsed`.
    pub status: EntryStatus,
    /// Why, with its catalogue code.
    pub error: FfiError,
}

/// What [`ReadingsVerifier::conclude`] found for one list.
///
/// The columns (`status` to `wh_exported`) describe the entries the list
/// added, `first_entry..first_entry + status.len()`, in entry order; the
/// values of an unparsed entry are zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Per input reading, its entry: a new one, or the one it repeats.
    #[serde(serialize_with = "as_u32s")]
    pub entries: Vec<usize>,
    /// The first entry this list added.
    #[serde(serialize_with = "as_u32")]
    pub first_entry: usize,
    /// Per added entry: [`EntryStatus::id`].
    pub status: Vec<u8>,
    /// Per added entry: the sequence number.
    pub sequence: Vec<u64>,
    /// Per added entry: the timestamp, ms since the Unix epoch.
    pub timestamp_ms: Vec<u64>,
    /// Per added entry: the imported-energy register, Wh.
    pub wh_imported: Vec<u64>,
    /// Per added entry: the exported-energy register, Wh.
    pub wh_exported: Vec<u64>,
    /// The added entries that failed, in entry order.
    pub failures: Vec<FailureOut>,
    /// How many added entries verified.
    #[serde(serialize_with = "as_u32")]
    pub verified: usize,
    /// How many inputs repeated an entry already held.
    #[serde(serialize_with = "as_u32")]
    pub repeats: usize,
    /// How many signatures were left to check after [`ReadingsVerifier::prepare`].
    #[serde(serialize_with = "as_u32")]
    pub checks: usize,
    /// How many of them the core checked itself (no verdict, or
    /// [`Verdict::Unchecked`]).
    #[serde(serialize_with = "as_u32")]
    pub checked_here: usize,
}

impl Outcome {
    /// Appends the outcome of the list prepared right after this one (its
    /// entries follow this one's; its inputs are numbered from
    /// `input_offset` in the combined list), so that a binding can prepare
    /// a long list in parts.
    pub fn append(&mut self, later: Self, input_offset: usize) {
        self.entries.extend(later.entries);
        self.status.extend(later.status);
        self.sequence.extend(later.sequence);
        self.timestamp_ms.extend(later.timestamp_ms);
        self.wh_imported.extend(later.wh_imported);
        self.wh_exported.extend(later.wh_exported);
        self.failures
            .extend(later.failures.into_iter().map(|f| FailureOut {
                input: f.input + input_offset,
                ..f
            }));
        self.verified += later.verified;
        self.repeats += later.repeats;
        self.checks += later.checks;
        self.checked_here += later.checked_here;
    }
}

impl ReadingsVerifier {
    /// A verifier for the readings of the meter whose registered key is `key`.
    pub fn new(key: PublicKey) -> Self {
        Self {
            key,
            entries: Vec::new(),
            signatures: Signatures::default(),
            by_sequence: HashMap::new(),
            failures: HashMap::new(),
            foreign_keys: HashMap::new(),
        }
    }

    /// The registered key.
    pub const fn key(&self) -> &PublicKey {
        &self.key
    }

    /// How many distinct readings the verifier holds, in every status.
    pub fn entries(&self) -> usize {
        self.entries.len()
    }

    /// How many entries are in `status`.
    pub fn count(&self, status: EntryStatus) -> usize {
        self.entries.iter().filter(|e| e.status == status).count()
    }

    /// The first half: everything but the signature arithmetic, for a list
    /// of parsed readings (or the errors of those that did not parse).
    /// Entries are added at once, as [`EntryStatus::Pending`] until
    /// [`conclude`](Self::conclude).
    pub fn prepare(
        &mut self,
        readings: impl IntoIterator<Item = Result<SignedReading, FfiError>>,
    ) -> Prepared {
        let first = self.entries.len();
        let mut prepared = Prepared {
            slots: Vec::new(),
            added: first..first,
            checks: Vec::new(),
            messages: Vec::new(),
            signatures: Vec::new(),
            bounds: vec![0],
        };
        for reading in readings {
            let signed = match reading {
                Ok(signed) => signed,
                Err(e) => {
                    let entry = self.push(EntryStatus::Unparsed, Reading::default(), None, None);
                    self.failures.insert(entry, e);
                    prepared.slots.push((entry, false));
                    continue;
                }
            };
            if let Some(held) = self.find(&signed) {
                prepared.slots.push((held, true));
                continue;
            }
            let signature = self.signatures.push(signed.signature());
            let entry = self.push(
                EntryStatus::Pending,
                *signed.reading(),
                Some(signed.algorithm()),
                Some(signature),
            );
            if signed.key_id() != self.key.key_id() {
                self.foreign_keys.insert(entry, signed.key_id());
            }
            prepared.slots.push((entry, false));
            match self.key.check_before_signature(&signed) {
                Err(e) => self.fail(entry, e.into()),
                Ok(()) => {
                    prepared
                        .messages
                        .extend_from_slice(&signed.canonical_bytes());
                    prepared.signatures.extend_from_slice(signed.signature());
                    prepared.bounds.push(prepared.signatures.len());
                    prepared.checks.push(Check { entry, signed });
                }
            }
        }
        prepared.added = first..self.entries.len();
        prepared
    }

    /// The second half: records a verdict for each check of `prepared`, in
    /// check order. A check without a verdict (`verdicts` shorter than
    /// [`Prepared::checks`]) or with [`Verdict::Unchecked`] is done here,
    /// with [`PublicKey::verify`].
    pub fn conclude(&mut self, prepared: Prepared, verdicts: &[Verdict]) -> Outcome {
        let mut checked_here = 0;
        let checks = prepared.checks.len();
        for (i, check) in prepared.checks.into_iter().enumerate() {
            let verdict = match verdicts.get(i).copied().unwrap_or(Verdict::Unchecked) {
                Verdict::Unchecked => {
                    checked_here += 1;
                    self.key.verify(&check.signed).map(|_| ())
                }
                Verdict::Valid => Ok(()),
                Verdict::Invalid => Err(VerifyError::InvalidSignature),
            };
            match verdict {
                Ok(()) => self.set_status(check.entry, EntryStatus::Verified),
                Err(e) => self.fail(check.entry, e.into()),
            }
        }
        let added = prepared.added;
        let mut outcome = Outcome {
            entries: Vec::with_capacity(prepared.slots.len()),
            first_entry: added.start,
            status: Vec::with_capacity(added.len()),
            sequence: Vec::with_capacity(added.len()),
            timestamp_ms: Vec::with_capacity(added.len()),
            wh_imported: Vec::with_capacity(added.len()),
            wh_exported: Vec::with_capacity(added.len()),
            failures: Vec::new(),
            verified: 0,
            repeats: 0,
            checks,
            checked_here,
        };
        let mut inputs = vec![0; added.len()];
        for (input, &(entry, repeat)) in prepared.slots.iter().enumerate() {
            outcome.entries.push(entry);
            if repeat {
                outcome.repeats += 1;
            } else if let Some(slot) = entry
                .checked_sub(added.start)
                .and_then(|i| inputs.get_mut(i))
            {
                *slot = input;
            }
        }
        for (entry, input) in added.zip(inputs) {
            let Some(e) = self.entries.get(entry) else {
                continue;
            };
            outcome.status.push(e.status.id());
            outcome.sequence.push(e.reading.sequence);
            outcome.timestamp_ms.push(e.reading.timestamp_ms);
            outcome.wh_imported.push(e.reading.wh_imported);
            outcome.wh_exported.push(e.reading.wh_exported);
            if e.status == EntryStatus::Verified {
                outcome.verified += 1;
            }
            if let Some(error) = self.failures.get(&entry) {
                outcome.failures.push(FailureOut {
                    entry,
                    input,
                    status: e.status,
                    error: error.clone(),
                });
            }
        }
        outcome
    }

    /// Audits the verified entries, in entry order (`docs/spec.md` section
    /// 3.4); findings name entries.
    pub fn audit(&self) -> AuditReportOut {
        let (ids, values): (Vec<usize>, Vec<Reading>) = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.status == EntryStatus::Verified)
            .map(|(id, e)| (id, e.reading))
            .unzip();
        let mut report = audit_readings(&values);
        if !values.is_empty() {
            report.key_id = Some(self.key.key_id());
        }
        #[expect(
            clippy::indexing_slicing,
            reason = "the auditor's indices are positions in `values`"
        )]
        // INVARIANT: `ids` parallels `values`, and every index of the report
        // is a position in `values`.
        AuditReportOut::new(&report, |i| ids[i])
    }

    /// The wire form of every verified entry in `entries`, as the text of a
    /// JSON array in entry order: what the meter signed, for an export that
    /// anyone can verify again.
    pub fn export_json(&self, entries: Range<usize>) -> String {
        let mut out = String::from("[");
        for (id, e) in self.entries.iter().enumerate().skip(entries.start) {
            if id >= entries.end {
                break;
            }
            let (EntryStatus::Verified, Some(algorithm), Some(at)) =
                (e.status, e.algorithm, e.signature)
            else {
                continue;
            };
            let Some(signature) = self.signatures.get(at) else {
                continue;
            };
            if out.len() > 1 {
                out.push(',');
            }
            // A verified entry carries the registered key (equal key ids).
            let signed = SignedReading::from_parts(
                algorithm,
                self.key.clone(),
                e.reading,
                signature.to_vec(),
            );
            out.push_str(&signed.to_json());
        }
        out.push(']');
        out
    }

    fn push(
        &mut self,
        status: EntryStatus,
        reading: Reading,
        algorithm: Option<Algorithm>,
        signature: Option<SignatureRef>,
    ) -> usize {
        let entry = self.entries.len();
        let mut next_same = None;
        if status != EntryStatus::Unparsed {
            next_same = self.by_sequence.insert(reading.sequence, entry);
        }
        self.entries.push(Entry {
            status,
            reading,
            algorithm,
            signature,
            next_same,
        });
        entry
    }

    fn set_status(&mut self, entry: usize, status: EntryStatus) {
        if let Some(e) = self.entries.get_mut(entry) {
            e.status = status;
        }
    }

    fn fail(&mut self, entry: usize, error: FfiError) {
        self.set_status(entry, EntryStatus::Failed);
        self.failures.insert(entry, error);
    }

    /// The entry identical in every byte to `signed`, if one is held.
    fn find(&self, signed: &SignedReading) -> Option<usize> {
        let mut at = self.by_sequence.get(&signed.reading().sequence).copied();
        while let Some(id) = at {
            let e = self.entries.get(id)?;
            // Only entries whose key id is not the registered one are listed.
            let key_id = self.foreign_keys.get(&id).map_or(self.key.key_id(), |k| *k);
            let same = e.reading == *signed.reading()
                && e.algorithm == Some(signed.algorithm())
                && key_id == signed.key_id()
                && e.signature.and_then(|s| self.signatures.get(s)) == Some(signed.signature());
            if same {
                return Some(id);
            }
            at = e.next_same;
        }
        None
    }
}
