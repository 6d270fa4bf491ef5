//! Readings in: `POST /reportReading` (one) and `POST /reportReadings` (a
//! backlog). The order of checks is: parse strictly (the core), find the
//! meter by key id, verify the signature (the core), the meter's rate
//! limit, then the core's history rules, applied by the committer against
//! the meter's state and made atomic by the database ([`crate::committer`]).

use std::sync::Arc;
use std::time::Instant;

use rocket::data::Data;
use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use rocket::{Route, State, post, routes};
use serde_json::value::RawValue;
use smartmeter_api::limits::{BATCH_BODY_LIMIT, MAX_BATCH_LEN, READING_BODY_LIMIT};
use smartmeter_api::{Accepted, BatchAnswer, BatchOutcome, BatchRequest, BatchResult};
use smartmeter_core::{KeyId, SignedReading};

use crate::Shared;
use crate::cache::CachedMeter;
use crate::committer::{Committer, NewReading, Outcome};
use crate::db::{self, Db};
use crate::error::{ApiError, ServerCode};
use crate::http::{JsonContent, TooLarge, Trace, read_body};

/// Finds a registered meter by key id, in the cache or else the database.
///
/// # Errors
/// 403 `unknown_meter`, or 503.
pub async fn lookup(
    shared: &Shared,
    db: &Db,
    key_id: &KeyId,
) -> Result<Arc<CachedMeter>, ApiError> {
    if let Some(m) = shared.cache.get(key_id) {
        shared.metrics.key_lookup(true);
        return Ok(m);
    }
    if shared.cache.is_known_unknown(key_id) {
        shared.metrics.key_lookup(true);
        return Err(unknown_meter(key_id));
    }
    shared.metrics.key_lookup(false);
    // Boxed: a miss is rare, and its future (a pool checkout and a query,
    // or the cluster's registry) is kilobytes that every request's future
    // would otherwise carry and copy.
    Box::pin(lookup_missed(shared, db, key_id)).await
}

fn unknown_meter(key_id: &KeyId) -> ApiError {
    ApiError::new(
        ServerCode::UnknownMeter,
        format!("no meter is registered with key {key_id}"),
    )
}

/// [`lookup`] past the cache: the registry (cluster mode) or the database.
async fn lookup_missed(
    shared: &Shared,
    db: &Db,
    key_id: &KeyId,
) -> Result<Arc<CachedMeter>, ApiError> {
    if let Some(node) = shared.cluster.get() {
        // Cluster mode: the registry bucket, then the key's shard.
        return match node.lookup(shared, key_id).await? {
            Some(m) => Ok(m),
            None => {
                shared.cache.remember_unknown(*key_id);
                Err(unknown_meter(key_id))
            }
        };
    }
    let client = db.get().await?;
    match db::meter_by_key(&client, key_id).await? {
        None => {
            shared.cache.remember_unknown(*key_id);
            Err(unknown_meter(key_id))
        }
        Some(row) => {
            // The same row primes the meter's history state.
            shared.states.update(row.id, row.state);
            Ok(shared.cache.insert(CachedMeter {
                id: row.id,
                key: row.public_key,
                revoked: row.revoked_at.is_some(),
                revision: 0,
            }))
        }
    }
}

/// A parsed reading whose meter is registered, not yet verified.
struct Found {
    signed: SignedReading,
    meter: Arc<CachedMeter>,
}

/// Parses and finds the meter: the checks before verification.
async fn find(shared: &Shared, db: &Db, trace: &Trace, raw: &[u8]) -> Result<Found, ApiError> {
    let signed = SignedReading::from_json(raw)?;
    trace.set_key_id(signed.key_id());
    match lookup(shared, db, &signed.key_id()).await {
        Ok(meter) => Ok(Found { signed, meter }),
        // Spec section 9: the carried key's policy (step 9) comes before the
        // lookup's verdict (step 10); a found key needs no such check, since
        // equal key ids mean the carried key is the registered one.
        Err(not_found) if not_found.code == ServerCode::UnknownMeter.as_str() => {
            signed
                .carried_key()
                .map_err(|e| ApiError::key_in_reading(&e))?;
            Err(not_found)
        }
        Err(e) => Err(e),
    }
}

/// Verifies a found reading with its meter's registered key, then refuses
/// it if the meter is revoked.
fn verify(shared: &Shared, found: Found) -> Result<NewReading, ApiError> {
    let started = Instant::now();
    let verified = found.meter.key.verify(&found.signed);
    shared.metrics.verify_time(started.elapsed());
    let verified = verified?;
    if found.meter.revoked {
        return Err(revoked(&verified.key_id()));
    }
    Ok(NewReading {
        meter_id: found.meter.id,
        reading: verified,
    })
}

/// Parses, finds the meter and verifies: everything before the rate limit
/// and the history rules.
async fn check(
    shared: &Shared,
    db: &Db,
    trace: &Trace,
    raw: &[u8],
) -> Result<NewReading, ApiError> {
    let found = find(shared, db, trace, raw).await?;
    // Verification of one reading (about 22 us for RSA-2048) runs on the
    // request's own task: handing it to the blocking pool costs more in
    // wake-ups and thread hops than it frees (docs/performance.md).
    verify(shared, found)
}

/// Readings a batch verifies per thread at least: below that, handing a
/// share to another thread (a few microseconds) is not worth it.
const MIN_PER_THREAD: usize = 8;

/// Verifies the found readings of a batch on up to `shared.verify_threads`
/// threads of the blocking pool, and waits for them. Results come back in
/// order.
///
/// With one core, or a batch too small to share, the request's own task
/// verifies. Otherwise every share goes to the blocking pool, none to the
/// request's task: Rocket's worker threads parse, look up and answer every
/// request, and a share kept on them made those threads the bottleneck
/// while the other cores waited (docs/performance.md).
///
/// # Errors
/// 500 if a verifying thread failed (verification never panics).
async fn verify_all(
    shared: &Arc<Shared>,
    found: Vec<Found>,
) -> Result<Vec<Result<NewReading, ApiError>>, ApiError> {
    let threads = (found.len() / MIN_PER_THREAD).clamp(1, shared.verify_threads.max(1));
    if threads == 1 {
        return Ok(found.into_iter().map(|f| verify(shared, f)).collect());
    }
    let share = found.len().div_ceil(threads);
    let mut handles = Vec::with_capacity(threads);
    let mut rest = found.into_iter();
    loop {
        let mine: Vec<Found> = rest.by_ref().take(share).collect();
        if mine.is_empty() {
            break;
        }
        let shared = Arc::clone(shared);
        handles.push(rocket::tokio::task::spawn_blocking(move || {
            mine.into_iter()
                .map(|f| verify(&shared, f))
                .collect::<Vec<_>>()
        }));
    }
    let mut out = Vec::with_capacity(share * threads);
    for handle in handles {
        out.extend(handle.await.map_err(|e| ApiError::internal(&e))?);
    }
    Ok(out)
}

fn revoked(key_id: &KeyId) -> ApiError {
    ApiError::new(
        ServerCode::MeterRevoked,
        format!("meter {key_id} is revoked"),
    )
}

/// The answer for a reading the committer did not store (a rejection, or a
/// fault), or `None` for a stored or duplicate one.
fn refusal(outcome: Outcome, key_id: &KeyId) -> Option<ApiError> {
    match outcome {
        Outcome::Accepted { .. } | Outcome::Duplicate => None,
        Outcome::Rejected(e) => Some(ApiError::from(e)),
        Outcome::Revoked => Some(revoked(key_id)),
        Outcome::UnknownMeter => Some(unknown_meter(key_id)),
        Outcome::Contended => Some(ApiError::new(
            ServerCode::DatabaseUnavailable,
            "other writers kept storing readings of this meter; retry later",
        )),
    }
}

/// Takes one token from the meter's bucket.
///
/// # Errors
/// 429 `rate_limited` with `Retry-After`.
fn rate_limit(shared: &Shared, key_id: &KeyId) -> Result<(), ApiError> {
    match shared.limiter.take(key_id, 1, Instant::now()) {
        (_, None) => Ok(()),
        (_, Some(limited)) => {
            let mut e = ApiError::new(
                ServerCode::RateLimited,
                format!(
                    "meter {key_id} sends faster than {} readings/s (burst {}); retry in {} s",
                    shared.config.rate_limit_per_sec,
                    shared.config.rate_limit_burst,
                    limited.retry_after
                ),
            );
            e.retry_after = Some(limited.retry_after);
            Err(e)
        }
    }
}

fn record(shared: &Shared, result: Result<Outcome, &ApiError>) {
    match result {
        Ok(Outcome::Accepted { gap, late }) => shared.metrics.accepted(gap, late),
        Ok(Outcome::Duplicate) => shared.metrics.duplicate(),
        Ok(Outcome::Rejected(e)) => shared.metrics.rejected(e.code()),
        Ok(Outcome::Revoked) => shared.metrics.rejected(ServerCode::MeterRevoked.as_str()),
        Ok(Outcome::UnknownMeter) => shared.metrics.rejected(ServerCode::UnknownMeter.as_str()),
        Ok(Outcome::Contended) => {}
        Err(e) if e.status.code < 500 => shared.metrics.rejected(e.code),
        Err(_) => {}
    }
}

/// `POST /reportReading`: one signed reading in the core's JSON wire form.
#[post("/reportReading", data = "<body>")]
async fn report(
    shared: &State<Arc<Shared>>,
    db: &State<Db>,
    committer: &State<Committer>,
    trace: &Trace,
    _json: JsonContent,
    body: Data<'_>,
) -> Result<(Status, Json<Accepted>), ApiError> {
    let result = async {
        let raw = read_body(body, READING_BODY_LIMIT, TooLarge::Reading).await?;
        let item = check(shared, db, trace, &raw).await?;
        let key_id = item.reading.key_id();
        rate_limit(shared, &key_id)?;
        // The item moves into the committer; the answer needs only these.
        let sequence = item.reading.reading().sequence;
        let outcome = committer
            .store(vec![item])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::internal(&"no outcome for a stored reading"))?;
        Ok((outcome, key_id, sequence))
    }
    .await;
    record(shared, result.as_ref().map(|(outcome, ..)| *outcome));
    let (outcome, key_id, sequence) = result?;
    let answer = |duplicate, gap, late| Accepted {
        key_id: key_id.to_string(),
        sequence,
        duplicate,
        gap,
        late,
    };
    match outcome {
        Outcome::Accepted { gap, late } => Ok((Status::Created, Json(answer(false, gap, late)))),
        Outcome::Duplicate => Ok((Status::Ok, Json(answer(true, 0, false)))),
        refused => Err(refusal(refused, &key_id)
            .unwrap_or_else(|| ApiError::internal(&"a refusal without an error"))),
    }
}

fn rejected(index: usize, sequence: Option<u64>, e: &ApiError) -> BatchResult {
    BatchResult {
        index,
        outcome: BatchOutcome::Rejected {
            sequence,
            error: e.code.into(),
            message: e.message.clone(),
        },
    }
}

/// The answer to a batch, with `Retry-After` when a reading was over its
/// meter's rate limit.
pub struct BatchResponse {
    answer: Json<BatchAnswer>,
    retry_after: Option<u64>,
}

impl<'r> Responder<'r, 'static> for BatchResponse {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let mut response = self.answer.respond_to(req)?;
        if let Some(secs) = self.retry_after {
            response.set_header(Header::new("Retry-After", secs.to_string()));
        }
        Ok(response)
    }
}

/// `POST /reportReadings`: `{"readings": [...]}`, at most
/// [`MAX_BATCH_LEN`] signed readings, stored in order in one transaction.
/// 200 with one result per reading once committed.
#[post("/reportReadings", data = "<body>")]
async fn report_batch(
    shared: &State<Arc<Shared>>,
    db: &State<Db>,
    committer: &State<Committer>,
    trace: &Trace,
    _json: JsonContent,
    body: Data<'_>,
) -> Result<BatchResponse, ApiError> {
    let raw = read_body(
        body,
        BATCH_BODY_LIMIT,
        TooLarge::Server(ServerCode::BodyTooLarge),
    )
    .await?;
    // Each item unparsed: a bad reading is its own result, not the batch's.
    let batch: BatchRequest<&RawValue> =
        serde_json::from_slice(&raw).map_err(|e| ApiError::malformed_json(&e))?;
    if batch.readings.len() > MAX_BATCH_LEN {
        return Err(ApiError::new(
            ServerCode::BatchTooLarge,
            format!(
                "a batch holds at most {MAX_BATCH_LEN} readings, got {}",
                batch.readings.len()
            ),
        ));
    }
    // Parse and find every reading (in order: a lookup may read the
    // database), then verify those found, on every core.
    let mut found = Vec::with_capacity(batch.readings.len());
    let mut refused: Vec<Option<ApiError>> = Vec::with_capacity(batch.readings.len());
    for raw in &batch.readings {
        match find(shared, db, trace, raw.get().as_bytes()).await {
            Ok(f) => {
                found.push(f);
                refused.push(None);
            }
            Err(e) if e.status.code >= 500 => return Err(e),
            Err(e) => refused.push(Some(e)),
        }
    }
    let mut verified = verify_all(shared, found).await?.into_iter();
    let mut results: Vec<Option<BatchResult>> = Vec::with_capacity(batch.readings.len());
    let mut items = Vec::new();
    let mut positions = Vec::new();
    let mut retry_after: Option<u64> = None;
    for (index, refusal) in refused.into_iter().enumerate() {
        // The error, and the sequence when the reading parsed.
        let checked = match refusal {
            Some(e) => Err((e, None)),
            None => match verified.next() {
                Some(Ok(item)) => match rate_limit(shared, &item.reading.key_id()) {
                    Ok(()) => Ok(item),
                    Err(e) => {
                        retry_after = retry_after.max(e.retry_after);
                        Err((e, Some(item.reading.reading().sequence)))
                    }
                },
                Some(Err(e)) => Err((e, None)),
                None => return Err(ApiError::internal(&"a found reading was not verified")),
            },
        };
        match checked {
            Ok(item) => {
                items.push(item);
                positions.push(index);
                results.push(None);
            }
            Err((e, sequence)) => {
                if e.status.code >= 500 {
                    return Err(e);
                }
                shared.metrics.rejected(e.code);
                results.push(Some(rejected(index, sequence, &e)));
            }
        }
    }
    let keys: Vec<(KeyId, u64)> = items
        .iter()
        .map(|item| (item.reading.key_id(), item.reading.reading().sequence))
        .collect();
    let outcomes = committer.store(items).await?;
    for (((key_id, seq), index), outcome) in keys.iter().zip(positions).zip(outcomes) {
        record(shared, Ok(outcome));
        let sequence = *seq;
        let result = match outcome {
            Outcome::Accepted { gap, late } => BatchResult {
                index,
                outcome: BatchOutcome::Accepted {
                    sequence,
                    gap,
                    late,
                },
            },
            Outcome::Duplicate => BatchResult {
                index,
                outcome: BatchOutcome::Duplicate { sequence },
            },
            refused => match refusal(refused, key_id) {
                Some(e) => rejected(index, Some(sequence), &e),
                None => return Err(ApiError::internal(&"a refusal without an error")),
            },
        };
        if let Some(slot) = results.get_mut(index) {
            *slot = Some(result);
        }
    }
    Ok(BatchResponse {
        answer: Json(BatchAnswer::new(results.into_iter().flatten().collect())),
        retry_after,
    })
}

/// Routes of the public listener for readings in.
pub fn public_routes() -> Vec<Route> {
    routes![report, report_batch]
}
