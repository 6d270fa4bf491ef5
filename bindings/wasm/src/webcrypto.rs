//! The WebCrypto calls: importing a registered key once per key id, and
//! checking the signatures of a `Prepared` with `crypto.subtle.verify`, all
//! of them at once. Which WebCrypto algorithm checks which signature is the
//! core's answer (`smartmeter_core::ffi::webcrypto`).

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Array, Promise, Reflect, Uint8Array};
use smartmeter_core::PublicKey;
use smartmeter_core::ffi::webcrypto::{self, Params};
use smartmeter_core::ffi::{Prepared, Verdict};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::js;

#[wasm_bindgen]
extern "C" {
    /// `crypto.subtle` (the `SubtleCrypto` interface).
    #[wasm_bindgen(js_name = SubtleCrypto)]
    #[derive(Clone)]
    pub(crate) type Subtle;

    #[wasm_bindgen(method, catch, js_name = importKey)]
    fn import_key(
        this: &Subtle,
        format: &str,
        key_data: &Uint8Array,
        algorithm: &JsValue,
        extractable: bool,
        usages: &Array,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn verify(
        this: &Subtle,
        algorithm: &JsValue,
        key: &JsValue,
        signature: &Uint8Array,
        data: &Uint8Array,
    ) -> Result<Promise, JsValue>;
}

/// `globalThis.crypto.subtle`, where it exists: in secure contexts of
/// browsers (https, localhost), in their workers, and in Node. Absent on a
/// page served over plain http from another host.
pub(crate) fn subtle() -> Option<Subtle> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).ok()?;
    if !crypto.is_object() {
        return None;
    }
    let subtle = Reflect::get(&crypto, &"subtle".into()).ok()?;
    subtle.is_object().then(|| subtle.unchecked_into())
}

thread_local! {
    /// Imports by key id: one `importKey` per key for the life of the
    /// instance, shared by every verifier (the promise, so that verifiers
    /// made at once share one import too).
    static IMPORTS: RefCell<HashMap<String, Promise>> = RefCell::new(HashMap::new());
}

fn params(p: &Params) -> Result<JsValue, JsValue> {
    js::to_js(p)
}

/// Starts importing `key` for verification, or returns the import already
/// started; resolves to the `CryptoKey`. `None` when WebCrypto cannot check
/// this key's signatures.
pub(crate) fn import(subtle: &Subtle, key: &PublicKey) -> Result<Option<Promise>, JsValue> {
    let Some(algorithm) = webcrypto::for_key(key) else {
        return Ok(None);
    };
    let id = key.key_id().to_string();
    if let Some(started) = IMPORTS.with(|imports| imports.borrow().get(&id).cloned()) {
        return Ok(Some(started));
    }
    let usages = Array::of1(&"verify".into());
    let der = Uint8Array::from(key.to_der());
    let promise = subtle.import_key("spki", &der, &params(&algorithm.import)?, false, &usages)?;
    IMPORTS.with(|imports| imports.borrow_mut().insert(id, promise.clone()));
    Ok(Some(promise))
}

/// Forgets a failed import, so that a later verifier tries again.
pub(crate) fn forget(key: &PublicKey) {
    IMPORTS.with(|imports| imports.borrow_mut().remove(&key.key_id().to_string()));
}

/// Starts `crypto.subtle.verify` for every check of `prepared` at once,
/// over views of one copy of its messages and one of its signatures; the
/// promise resolves to one boolean per check (or `undefined` for a check
/// WebCrypto cannot do). Returns at once: the checks run on the browser's
/// own threads while this thread goes on.
pub(crate) fn dispatch(
    subtle: &Subtle,
    key: &JsValue,
    prepared: &Prepared,
) -> Result<Promise, JsValue> {
    let messages = Uint8Array::from(prepared.messages());
    let signatures = Uint8Array::from(prepared.signatures());
    let all = Array::new();
    let mut verify_params: Option<(smartmeter_core::Algorithm, JsValue)> = None;
    for i in 0..prepared.checks() {
        let (Some(algorithm), Some(m), Some(s)) = (
            prepared.algorithm(i),
            prepared.message_range(i),
            prepared.signature_range(i),
        ) else {
            all.push(&JsValue::UNDEFINED);
            continue;
        };
        let algorithm_params = match &verify_params {
            Some((a, p)) if *a == algorithm => p.clone(),
            _ => match webcrypto::for_algorithm(algorithm) {
                Some(w) => {
                    let p = params(&w.verify)?;
                    verify_params = Some((algorithm, p.clone()));
                    p
                }
                None => {
                    all.push(&JsValue::UNDEFINED);
                    continue;
                }
            },
        };
        let promise = subtle.verify(
            &algorithm_params,
            key,
            &signatures.subarray(offset(s.start), offset(s.end)),
            &messages.subarray(offset(m.start), offset(m.end)),
        )?;
        all.push(&promise);
    }
    Ok(Promise::all(&all))
}

/// A byte offset into a buffer that was copied into a `Uint8Array`, whose
/// length is a `u32`: every offset within it fits.
fn offset(value: usize) -> u32 {
    value as u32
}

/// The verdicts of a `dispatch`, in check order.
pub(crate) async fn verdicts(dispatched: Promise) -> Result<Vec<Verdict>, JsValue> {
    let results: Array = JsFuture::from(dispatched).await?.unchecked_into();
    Ok(results
        .iter()
        .map(|r| match r.as_bool() {
            Some(true) => Verdict::Valid,
            Some(false) => Verdict::Invalid,
            None => Verdict::Unchecked,
        })
        .collect())
}
