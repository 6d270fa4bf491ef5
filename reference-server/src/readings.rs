//! Readings in: `POST /reportReading` (one) and `POST /reportReadings` (a
//! backlog). The order of checks is: parse strictly (the core), find the
//! meter by key id, verify the signature (the core), then policy (clock
//! skew here; sequence, time order and registers in PostgreSQL).

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rocket::data::Data;
use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use rocket::{Route, State, post, routes};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use smartmeter_core::{ErrorCode, KeyId, Reading, SignedReading};

use crate::Shared;
use crate::cache::CachedMeter;
use crate::committer::Committer;
use crate::config::{BATCH_BODY_LIMIT, MAX_BATCH_LEN, READING_BODY_LIMIT};
use crate::db::store::Refusal;
use crate::db::{self, Db, NewReading, Outcome};
use crate::error::{ApiError, ServerCode};
use crate::http::{JsonContent, TooLarge, Trace, read_body};

/// The answer for one stored or acknowledged reading.
#[derive(Debug, Serialize)]
pub struct Accepted {
    /// Key id of the meter.
    pub key_id: String,
    /// Sequence of the reading.
    pub sequence: u64,
    /// True when this was an exact re-send of a stored reading.
    pub duplicate: bool,
    /// Sequence numbers skipped since the previous stored reading.
    pub gap: u64,
}

/// The server's clock in ms since the Unix epoch.
fn now_ms() -> Result<u64, ApiError> {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| ApiError::internal(&format!("the clock is before 1970: {e}")))?;
    Ok(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
}

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
    let unknown = || {
        ApiError::new(
            ServerCode::UnknownMeter,
            format!("no meter is registered with key {key_id}"),
        )
    };
    if shared.cache.is_known_unknown(key_id) {
        shared.metrics.key_lookup(true);
        return Err(unknown());
    }
    shared.metrics.key_lookup(false);
    let client = db.get().await?;
    match db::meter_by_key(&client, key_id).await? {
        None => {
            shared.cache.remember_unknown(*key_id);
            Err(unknown())
        }
        Some(row) => Ok(shared.cache.insert(CachedMeter {
            id: row.id,
            key: row.public_key,
            revoked: row.revoked_at.is_some(),
        })),
    }
}

/// Parses, finds the meter, verifies and checks the clock: everything
/// before the database's policy.
async fn check(
    shared: &Shared,
    db: &Db,
    trace: &Trace,
    raw: &[u8],
) -> Result<NewReading, ApiError> {
    let signed = SignedReading::from_json(raw)?;
    trace.set_key_id(signed.key_id());
    let meter = match lookup(shared, db, &signed.key_id()).await {
        Ok(meter) => meter,
        // Spec section 9: the carried key's policy (step 9) comes before the
        // lookup's verdict (step 10); a found key needs no such check, since
        // equal key ids mean the carried key is the registered one.
        Err(not_found) if not_found.code == ServerCode::UnknownMeter.as_str() => {
            signed
                .carried_key()
                .map_err(|e| ApiError::key_in_reading(&e))?;
            return Err(not_found);
        }
        Err(e) => return Err(e),
    };
    let key = meter.key.clone();
    let metrics = Arc::clone(&shared.metrics);
    // RSA verification is CPU work: keep it off the async workers.
    let verified = rocket::tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let result = key.verify(&signed);
        metrics.verify_time(started.elapsed());
        result
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    if meter.revoked {
        return Err(revoked(&verified.key_id()));
    }
    let reading = *verified.reading();
    let skew_ms = shared.config.max_clock_skew_secs.saturating_mul(1000);
    let now = now_ms()?;
    if reading.timestamp_ms > now.saturating_add(skew_ms) {
        return Err(ApiError::policy(
            ErrorCode::TimestampInFuture,
            format!(
                "timestamp {} ms is more than {} s ahead of the server clock ({} ms)",
                reading.timestamp_ms, shared.config.max_clock_skew_secs, now
            ),
        ));
    }
    Ok(NewReading {
        meter_id: meter.id,
        key_id: verified.key_id(),
        reading,
        algorithm: verified.algorithm().id(),
        signature: verified.signed().signature().to_vec(),
    })
}

fn revoked(key_id: &KeyId) -> ApiError {
    ApiError::new(
        ServerCode::MeterRevoked,
        format!("meter {key_id} is revoked"),
    )
}

/// The error for a policy refusal of the database.
fn policy_error(refusal: Refusal, r: &Reading) -> ApiError {
    match refusal {
        Refusal::StaleSequence => ApiError::policy(
            ErrorCode::StaleSequence,
            format!(
                "sequence {} is not after the last stored sequence and is not an exact re-send",
                r.sequence
            ),
        ),
        Refusal::TimestampBackwards => ApiError::policy(
            ErrorCode::TimestampBackwards,
            format!(
                "timestamp {} ms is before the last stored reading's",
                r.timestamp_ms
            ),
        ),
        Refusal::RegisterDecreased => ApiError::policy(
            ErrorCode::RegisterDecreased,
            "a register is lower than in the last stored reading",
        ),
        Refusal::Revoked => ApiError::new(ServerCode::MeterRevoked, "the meter is revoked"),
        Refusal::UnknownMeter => {
            ApiError::new(ServerCode::UnknownMeter, "the meter is not registered")
        }
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

fn record(shared: &Shared, result: Result<&Outcome, &ApiError>, reading: Option<&Reading>) {
    match result {
        Ok(Outcome::Accepted { gap }) => shared.metrics.accepted(*gap),
        Ok(Outcome::Duplicate) => shared.metrics.duplicate(),
        Ok(Outcome::Rejected(refusal)) => {
            if let Some(r) = reading {
                shared.metrics.rejected(policy_error(*refusal, r).code);
            }
        }
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
        rate_limit(shared, &item.key_id)?;
        // The item moves into the committer; the answer needs only these.
        let (key_id, reading) = (item.key_id, item.reading);
        let outcome = committer
            .store(vec![item])
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::internal(&"no outcome for a stored reading"))?;
        Ok((outcome, key_id, reading))
    }
    .await;
    record(
        shared,
        result.as_ref().map(|(outcome, ..)| outcome),
        result.as_ref().ok().map(|(_, _, r)| r),
    );
    let (outcome, key_id, reading) = result?;
    let answer = |duplicate, gap| Accepted {
        key_id: key_id.to_string(),
        sequence: reading.sequence,
        duplicate,
        gap,
    };
    match outcome {
        Outcome::Accepted { gap } => Ok((Status::Created, Json(answer(false, gap)))),
        Outcome::Duplicate => Ok((Status::Ok, Json(answer(true, 0)))),
        Outcome::Rejected(refusal) => Err(policy_error(refusal, &reading)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch<'a> {
    #[serde(borrow)]
    readings: Vec<&'a RawValue>,
}

/// The result for one reading of a batch.
#[derive(Debug, Serialize)]
pub struct BatchResult {
    /// Position in the request.
    pub index: usize,
    /// `accepted`, `duplicate` or `rejected`.
    pub status: &'static str,
    /// Sequence of the reading, when it parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Sequence numbers skipped, for an accepted reading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<u64>,
    /// The error code, for a rejected reading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    /// The error message, for a rejected reading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The answer to a batch.
#[derive(Debug, Serialize)]
pub struct BatchAnswer {
    /// Stored readings.
    pub accepted: usize,
    /// Acknowledged re-sends.
    pub duplicates: usize,
    /// Rejected readings.
    pub rejected: usize,
    /// One result per reading, in request order.
    pub results: Vec<BatchResult>,
}

fn rejected(index: usize, sequence: Option<u64>, e: &ApiError) -> BatchResult {
    BatchResult {
        index,
        status: "rejected",
        sequence,
        gap: None,
        error: Some(e.code),
        message: Some(e.message.clone()),
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
    let batch: Batch<'_> =
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
    let mut results: Vec<Option<BatchResult>> = Vec::with_capacity(batch.readings.len());
    let mut items = Vec::new();
    let mut positions = Vec::new();
    let mut retry_after: Option<u64> = None;
    for (index, raw) in batch.readings.iter().enumerate() {
        // The error, and the sequence when the reading parsed.
        let checked = match check(shared, db, trace, raw.get().as_bytes()).await {
            Ok(item) => match rate_limit(shared, &item.key_id) {
                Ok(()) => Ok(item),
                Err(e) => {
                    retry_after = retry_after.max(e.retry_after);
                    Err((e, Some(item.reading.sequence)))
                }
            },
            Err(e) => Err((e, None)),
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
    let readings: Vec<Reading> = items.iter().map(|item| item.reading).collect();
    let outcomes = committer.store(items).await?;
    for ((reading, index), outcome) in readings.iter().zip(positions).zip(outcomes) {
        record(shared, Ok(&outcome), Some(reading));
        let sequence = Some(reading.sequence);
        let result = match outcome {
            Outcome::Accepted { gap } => BatchResult {
                index,
                status: "accepted",
                sequence,
                gap: Some(gap),
                error: None,
                message: None,
            },
            Outcome::Duplicate => BatchResult {
                index,
                status: "duplicate",
                sequence,
                gap: None,
                error: None,
                message: None,
            },
            Outcome::Rejected(refusal) => {
                rejected(index, sequence, &policy_error(refusal, reading))
            }
        };
        if let Some(slot) = results.get_mut(index) {
            *slot = Some(result);
        }
    }
    let results: Vec<BatchResult> = results.into_iter().flatten().collect();
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    Ok(BatchResponse {
        answer: Json(BatchAnswer {
            accepted: count("accepted"),
            duplicates: count("duplicate"),
            rejected: count("rejected"),
            results,
        }),
        retry_after,
    })
}

/// Routes of the public listener for readings in.
pub fn public_routes() -> Vec<Route> {
    routes![report, report_batch]
}
