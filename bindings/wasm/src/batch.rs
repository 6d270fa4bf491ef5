//! `ReadingsVerifier` and `verifyReadings`: many readings at once, the core
//! doing everything but the signature arithmetic
//! (`smartmeter_core::ffi::ReadingsVerifier`), WebCrypto doing that where it
//! exists and the core's own verifier where it does not. Only the binding,
//! the scheduling of the WebCrypto calls and the conversion of the results
//! to typed arrays live here.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{BigUint64Array, Object, Promise, Reflect, Uint8Array, Uint32Array};
use smartmeter_core::ffi::{self, Outcome, Prepared, Verdict};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use crate::js;
use crate::webcrypto::{self, Subtle};

#[wasm_bindgen(typescript_custom_section)]
const TS_BATCH_TYPES: &'static str = r#"
/** Who checks the signatures: WebCrypto where it exists ("auto", the default), only WebCrypto, or only the core's own verifier. */
export type Backend = "auto" | "webcrypto" | "pure";

export interface VerifyOptions {
  /**
   * "auto": `crypto.subtle` where it exists (secure contexts, workers, Node), else the core's verifier;
   * a WebCrypto call that fails is done by the core, and the outcome says so (`checkedHere`, `webCryptoError`).
   * "webcrypto": WebCrypto only; a failure rejects. "pure": the core's verifier only.
   */
  backend?: Backend;
}

/** A reading of a list that did not verify. */
export interface ReadingFailure {
  /** Its entry in the verifier. */
  entry: number;
  /** Its index in the list given to `verify`. */
  input: number;
  /** "failed": parsed, its values are unauthenticated; "unparsed": no values. */
  status: "failed" | "unparsed";
  /** Why, with the core's code (e.g. "invalid_signature", "key_mismatch", "malformed_json"). */
  error: { code: string; message: string };
}

/**
 * What one `verify` call found. A verifier holds a set of distinct readings ("entries"):
 * a reading identical in every byte to one it holds is a repeat of that entry.
 * The columns `status` to `whExported` describe the entries this call added,
 * `firstEntry .. firstEntry + status.length - 1`, in entry order.
 */
export interface VerifyOutcome {
  /** Per input reading: its entry (a new one, or the one it repeats). */
  entries: Uint32Array;
  firstEntry: number;
  /** Per added entry: 0 verified, 1 failed (values unauthenticated), 2 did not parse (values 0). */
  status: Uint8Array;
  sequence: BigUint64Array;
  timestampMs: BigUint64Array;
  whImported: BigUint64Array;
  whExported: BigUint64Array;
  /** The added entries that did not verify, in entry order. */
  failures: ReadingFailure[];
  /** How many added entries verified. */
  verified: number;
  /** How many inputs repeated an entry already held. */
  repeats: number;
  /** Signatures left to check once everything else had passed. */
  checks: number;
  /** How many of them the core checked itself (all of them with the "pure" backend). */
  checkedHere: number;
  /** The backend this verifier uses. */
  backend: "webcrypto" | "pure";
  /** Why WebCrypto could not check (backend "auto" only; the core checked instead). */
  webCryptoError?: string;
}

/** `verifyReadings`: the outcome and the audit of the verified readings; findings name entries. */
export interface VerifyReport extends VerifyOutcome {
  audit: AuditReport;
}

/** How many entries a verifier holds in each status. */
export interface EntryCounts {
  verified: number;
  failed: number;
  unparsed: number;
  pending: number;
}
"#;

/// How many readings are prepared and handed to WebCrypto at a time: the
/// core prepares the next part while WebCrypto checks the last one.
const PART: usize = 1024;

/// Who checks signatures.
#[derive(Clone)]
enum Backend {
    /// WebCrypto; `strict`: a failure rejects instead of falling back.
    WebCrypto {
        subtle: Subtle,
        strict: bool,
    },
    Pure,
}

/// The `CryptoKey` of the registered key, once imported.
enum KeyState {
    Importing(Promise),
    Ready(JsValue),
    /// WebCrypto cannot check this key's signatures (or failed to import
    /// it): the message says why.
    Unavailable(String),
}

/// Verifies many readings of one meter against its registered key, list
/// after list (for example the pages of a time range), and audits what it
/// holds.
///
/// The verifier holds a set of distinct readings ("entries"): a reading
/// identical in every byte to one it holds is a repeat of that entry, so a
/// range loaded again keeps what was seen, and another signed reading for a
/// sequence seen before shows in `audit()` as a conflict. Call `free()` when
/// done with it (or end the worker that holds it).
#[wasm_bindgen(js_name = ReadingsVerifier)]
pub struct ReadingsVerifier {
    inner: Rc<RefCell<ffi::ReadingsVerifier>>,
    backend: Backend,
    key: Rc<RefCell<KeyState>>,
}

fn options_backend(options: &JsValue) -> Result<Backend, JsValue> {
    let requested = if options.is_undefined() || options.is_null() {
        JsValue::UNDEFINED
    } else if options.is_object() {
        Reflect::get(options, &"backend".into())?
    } else {
        return Err(js::invalid_argument("options are an object"));
    };
    let requested = if requested.is_undefined() {
        "auto".to_owned()
    } else {
        requested.as_string().ok_or_else(|| {
            js::invalid_argument("`backend` is \"auto\", \"webcrypto\" or \"pure\"")
        })?
    };
    match (requested.as_str(), webcrypto::subtle()) {
        ("pure", _) | ("auto", None) => Ok(Backend::Pure),
        ("auto", Some(subtle)) => Ok(Backend::WebCrypto {
            subtle,
            strict: false,
        }),
        ("webcrypto", Some(subtle)) => Ok(Backend::WebCrypto {
            subtle,
            strict: true,
        }),
        ("webcrypto", None) => Err(js::invalid_argument(
            "backend \"webcrypto\": crypto.subtle is not available here (not a secure context?)",
        )),
        _ => Err(js::invalid_argument(
            "`backend` is \"auto\", \"webcrypto\" or \"pure\"",
        )),
    }
}

fn borrow_error() -> JsValue {
    js_sys::Error::new("the verifier is in use by a call that has not returned").into()
}

#[wasm_bindgen(js_class = ReadingsVerifier)]
impl ReadingsVerifier {
    /// A verifier for the meter whose registered public key is
    /// `registeredPublicKey` (PEM, base64 of the DER, or the DER bytes).
    /// `options.backend` chooses who checks the signatures (default
    /// `"auto"`). With WebCrypto the key is imported at once, and once per
    /// key id for the life of the module.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(
            js_name = registeredPublicKey,
            unchecked_param_type = "string | Uint8Array"
        )]
        registered_public_key: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "VerifyOptions")] options: Option<JsValue>,
    ) -> Result<ReadingsVerifier, JsValue> {
        let options = options.unwrap_or(JsValue::UNDEFINED);
        let key = js::registered_key(&registered_public_key)?;
        let backend = options_backend(&options)?;
        let state = match &backend {
            Backend::Pure => KeyState::Unavailable("the pure backend was chosen".to_owned()),
            Backend::WebCrypto { subtle, .. } => match webcrypto::import(subtle, &key)? {
                Some(import) => KeyState::Importing(import),
                None => {
                    KeyState::Unavailable("WebCrypto cannot check this key's signatures".to_owned())
                }
            },
        };
        let key_state = Rc::new(RefCell::new(state));
        if let KeyState::Importing(import) = &*key_state.borrow() {
            let (import, slot, key) = (import.clone(), key_state.clone(), key.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let state = match JsFuture::from(import).await {
                    Ok(crypto_key) => KeyState::Ready(crypto_key),
                    Err(e) => {
                        webcrypto::forget(&key);
                        KeyState::Unavailable(message_of(&e))
                    }
                };
                if let Ok(mut slot) = slot.try_borrow_mut() {
                    *slot = state;
                }
            });
        }
        Ok(Self {
            inner: Rc::new(RefCell::new(ffi::ReadingsVerifier::new(key))),
            backend,
            key: key_state,
        })
    }

    /// The key id of the registered key (64 lowercase hex digits).
    #[wasm_bindgen(getter, js_name = keyId)]
    pub fn key_id(&self) -> Result<String, JsValue> {
        let inner = self.inner.try_borrow().map_err(|_| borrow_error())?;
        Ok(inner.key().key_id().to_string())
    }

    /// The backend this verifier uses: `"webcrypto"` or `"pure"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        match self.backend {
            Backend::WebCrypto { .. } => "webcrypto",
            Backend::Pure => "pure",
        }
        .to_owned()
    }

    /// Resolves once the registered key is imported into WebCrypto (at
    /// once with the `"pure"` backend); rejects only with the
    /// `"webcrypto"` backend, when the import failed. `verify` does not
    /// need it, but the first list is then checked while it is prepared.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn ready(&self) -> Promise {
        let (state, strict) = (self.key.clone(), self.strict());
        future_to_promise(async move {
            key_when_ready(&state).await.or_else(|e| {
                if strict {
                    Err(e)
                } else {
                    Ok(JsValue::UNDEFINED)
                }
            })?;
            Ok(JsValue::UNDEFINED)
        })
    }

    fn strict(&self) -> bool {
        matches!(self.backend, Backend::WebCrypto { strict: true, .. })
    }

    /// Verifies a list of readings (JSON texts or wire-form objects, e.g.
    /// one page of `GET /meters/{key_id}/readings`, its `readings[].signed`)
    /// and adds them to the verifier. Everything but the signature
    /// arithmetic happens now, before this returns; the promise resolves to
    /// the outcome once every signature is checked. Lists verified one after
    /// another get their entries in call order.
    #[wasm_bindgen(unchecked_return_type = "Promise<VerifyOutcome>")]
    pub fn verify(
        &self,
        #[wasm_bindgen(unchecked_param_type = "Array<string | WireReading>")] readings: JsValue,
    ) -> Promise {
        match self.start(&readings) {
            Ok(run) => future_to_promise(run),
            Err(e) => Promise::reject(&e),
        }
    }

    /// The synchronous half of `verify`: prepares every part, and hands it
    /// to WebCrypto at once when the key is already imported.
    fn start(
        &self,
        readings: &JsValue,
    ) -> Result<impl Future<Output = Result<JsValue, JsValue>> + 'static, JsValue> {
        let readings = js::array(readings, "readings")?;
        let mut parts: Vec<(Prepared, usize, Option<Promise>)> = Vec::new();
        let ready_key = match (
            &self.backend,
            &*self.key.try_borrow().map_err(|_| borrow_error())?,
        ) {
            (Backend::WebCrypto { subtle, .. }, KeyState::Ready(key)) => {
                Some((subtle.clone(), key.clone()))
            }
            _ => None,
        };
        let length = readings.length() as usize;
        let mut offset = 0;
        while offset < length || (offset == 0 && parts.is_empty()) {
            let end = (offset + PART).min(length);
            let inputs = (offset..end).map(|i| js::reading(&readings.get(i as u32)));
            let prepared = self
                .inner
                .try_borrow_mut()
                .map_err(|_| borrow_error())?
                .prepare(inputs);
            let dispatched = match &ready_key {
                Some((subtle, key)) if prepared.checks() > 0 => {
                    Some(webcrypto::dispatch(subtle, key, &prepared)?)
                }
                _ => None,
            };
            parts.push((prepared, offset, dispatched));
            offset = end;
            if length == 0 {
                break;
            }
        }
        let (inner, key, backend) = (self.inner.clone(), self.key.clone(), self.backend.clone());
        Ok(async move {
            let mut web_crypto_error = None;
            let mut outcome: Option<Outcome> = None;
            for (prepared, offset, dispatched) in parts {
                let verdicts = match (&backend, dispatched) {
                    (Backend::Pure, _) => Vec::new(),
                    (Backend::WebCrypto { .. }, _) if prepared.checks() == 0 => Vec::new(),
                    (Backend::WebCrypto { subtle, strict }, dispatched) => {
                        match web_crypto_verdicts(subtle, &key, &prepared, dispatched).await {
                            Ok(v) => v,
                            Err(e) if *strict => return Err(e),
                            Err(e) => {
                                web_crypto_error.get_or_insert(message_of(&e));
                                Vec::new()
                            }
                        }
                    }
                };
                let part = inner
                    .try_borrow_mut()
                    .map_err(|_| borrow_error())?
                    .conclude(prepared, &verdicts);
                match &mut outcome {
                    Some(o) => o.append(part, offset),
                    None => outcome = Some(part),
                }
            }
            let outcome = outcome.ok_or_else(|| JsValue::from(js_sys::Error::new("no outcome")))?;
            outcome_object(&outcome, &backend, web_crypto_error.as_deref())
        })
    }

    /// Audits the verified entries (`docs/spec.md` section 3.4): gaps,
    /// duplicates, conflicts, timestamps running backwards, registers
    /// decreasing, late arrivals. Findings name entries.
    #[wasm_bindgen(unchecked_return_type = "AuditReport")]
    pub fn audit(&self) -> Result<JsValue, JsValue> {
        let inner = self.inner.try_borrow().map_err(|_| borrow_error())?;
        js::to_js(&inner.audit())
    }

    /// The wire form of every verified entry from `firstEntry` (default 0)
    /// up to `endEntry` (exclusive, default all), as the text of a JSON
    /// array: exactly what the meter signed, for an export that anyone can
    /// verify again.
    #[wasm_bindgen(js_name = exportJson)]
    pub fn export_json(
        &self,
        #[wasm_bindgen(js_name = firstEntry)] first_entry: Option<u32>,
        #[wasm_bindgen(js_name = endEntry)] end_entry: Option<u32>,
    ) -> Result<String, JsValue> {
        let inner = self.inner.try_borrow().map_err(|_| borrow_error())?;
        let start = first_entry.map_or(0, |e| e as usize);
        let end = end_entry.map_or(inner.entries(), |e| e as usize);
        Ok(inner.export_json(start..end))
    }

    /// How many entries the verifier holds.
    #[wasm_bindgen(getter)]
    pub fn entries(&self) -> Result<u32, JsValue> {
        let inner = self.inner.try_borrow().map_err(|_| borrow_error())?;
        u32::try_from(inner.entries()).map_err(|_| js_sys::Error::new("too many entries").into())
    }

    /// How many entries are in each status.
    #[wasm_bindgen(unchecked_return_type = "EntryCounts")]
    pub fn counts(&self) -> Result<JsValue, JsValue> {
        use ffi::batch::EntryStatus::{Failed, Pending, Unparsed, Verified};
        let inner = self.inner.try_borrow().map_err(|_| borrow_error())?;
        let out = Object::new();
        for (name, status) in [
            ("verified", Verified),
            ("failed", Failed),
            ("unparsed", Unparsed),
            ("pending", Pending),
        ] {
            Reflect::set(
                &out,
                &name.into(),
                &JsValue::from_f64(inner.count(status) as f64),
            )?;
        }
        Ok(out.into())
    }
}

/// The imported `CryptoKey`, waiting for the import if it is under way.
async fn key_when_ready(state: &Rc<RefCell<KeyState>>) -> Result<JsValue, JsValue> {
    let import = match &*state.try_borrow().map_err(|_| borrow_error())? {
        KeyState::Ready(key) => return Ok(key.clone()),
        KeyState::Unavailable(why) => return Err(js_sys::Error::new(why).into()),
        KeyState::Importing(import) => import.clone(),
    };
    // The import is shared; awaiting it again resolves to the same key.
    JsFuture::from(import).await
}

/// Verdicts for a prepared part: from the WebCrypto calls started when it
/// was prepared, or started now that the key is imported.
async fn web_crypto_verdicts(
    subtle: &Subtle,
    key: &Rc<RefCell<KeyState>>,
    prepared: &Prepared,
    dispatched: Option<Promise>,
) -> Result<Vec<Verdict>, JsValue> {
    let dispatched = match dispatched {
        Some(d) => d,
        None => webcrypto::dispatch(subtle, &key_when_ready(key).await?, prepared)?,
    };
    webcrypto::verdicts(dispatched).await
}

fn message_of(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "WebCrypto failed".to_owned())
}

fn set(target: &Object, name: &str, value: &JsValue) -> Result<(), JsValue> {
    Reflect::set(target, &name.into(), value).map(|_| ())
}

fn number(value: usize) -> JsValue {
    JsValue::from_f64(value as f64)
}

/// An outcome as JavaScript sees it: columns as typed arrays (exact
/// `bigint`s, and cheap to hand to another thread), the rest as objects.
fn outcome_object(
    outcome: &Outcome,
    backend: &Backend,
    web_crypto_error: Option<&str>,
) -> Result<JsValue, JsValue> {
    let out = Object::new();
    let entries = outcome
        .entries
        .iter()
        .map(|e| u32::try_from(*e))
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|_| js_sys::Error::new("an entry beyond 2^32 - 1"))?;
    set(&out, "entries", &Uint32Array::from(entries.as_slice()))?;
    set(&out, "firstEntry", &number(outcome.first_entry))?;
    set(&out, "status", &Uint8Array::from(outcome.status.as_slice()))?;
    set(
        &out,
        "sequence",
        &BigUint64Array::from(outcome.sequence.as_slice()),
    )?;
    set(
        &out,
        "timestampMs",
        &BigUint64Array::from(outcome.timestamp_ms.as_slice()),
    )?;
    set(
        &out,
        "whImported",
        &BigUint64Array::from(outcome.wh_imported.as_slice()),
    )?;
    set(
        &out,
        "whExported",
        &BigUint64Array::from(outcome.wh_exported.as_slice()),
    )?;
    set(&out, "failures", &js::to_js(&outcome.failures)?)?;
    set(&out, "verified", &number(outcome.verified))?;
    set(&out, "repeats", &number(outcome.repeats))?;
    set(&out, "checks", &number(outcome.checks))?;
    set(&out, "checkedHere", &number(outcome.checked_here))?;
    let backend = match backend {
        Backend::WebCrypto { .. } => "webcrypto",
        Backend::Pure => "pure",
    };
    set(&out, "backend", &backend.into())?;
    if let Some(e) = web_crypto_error {
        set(&out, "webCryptoError", &e.into())?;
    }
    Ok(out.into())
}

/// Verifies many readings of one meter against its registered key, the
/// signatures checked by WebCrypto where it exists (`options.backend`), and
/// audits them. Resolves to the outcome with `audit`; every reading is
/// accounted for (`status`, `failures`). The readings are one list, in the
/// order they arrived or were fetched; byte-identical ones count once
/// (`repeats`), and findings name entries (`entries` maps each input to its
/// entry).
#[wasm_bindgen(js_name = verifyReadings, unchecked_return_type = "Promise<VerifyReport>")]
pub fn verify_readings(
    #[wasm_bindgen(unchecked_param_type = "Array<string | WireReading>")] readings: JsValue,
    #[wasm_bindgen(
        js_name = registeredPublicKey,
        unchecked_param_type = "string | Uint8Array"
    )]
    registered_public_key: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "VerifyOptions")] options: Option<JsValue>,
) -> Promise {
    let options = options.unwrap_or(JsValue::UNDEFINED);
    let verifier = match ReadingsVerifier::new(registered_public_key, Some(options)) {
        Ok(v) => v,
        Err(e) => return Promise::reject(&e),
    };
    if let Err(e) = js::array(&readings, "readings") {
        return Promise::reject(&e);
    }
    future_to_promise(async move {
        // The key first, so that each part goes to WebCrypto as soon as it
        // is prepared.
        JsFuture::from(verifier.ready()).await?;
        let outcome = JsFuture::from(verifier.verify(readings)).await?;
        set(outcome.unchecked_ref(), "audit", &verifier.audit()?)?;
        Ok(outcome)
    })
}
