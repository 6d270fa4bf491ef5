//! Readings in: `POST /reportReading` (one) and `POST /reportReadings` (a
//! backlog). The order of checks is: parse strictly (the core), find the
//! meter by key id, verify the signature (the core), then policy (clock
//! skew here; sequence, time order and registers in PostgreSQL).

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rocket::data::{Data, ToByteUnit};
use rocket::http::Status;
use rocket::request::{FromRequest, Outcome as GuardOutcome, Request};
use rocket::serde::json::Json;
use rocket::{Route, State, post, routes};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use smartmeter_core::{KeyId, Reading, SignedReading};

use crate::Shared;
use crate::cache::CachedMeter;
use crate::committer::Committer;
use crate::config::{BATCH_BODY_LIMIT, MAX_BATCH_LEN, READING_BODY_LIMIT};
use crate::db::{self, Db, NewReading, Outcome};
use crate::error::ApiError;

/// Rejects a body that declares a content type other than JSON (415).
/// A body without a content type is read as JSON.
#[derive(Debug, Clone, Copy)]
pub struct JsonContent;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for JsonContent {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> GuardOutcome<Self, ()> {
        match req.content_type() {
            Some(ct) if !ct.is_json() => GuardOutcome::Error((Status::UnsupportedMediaType, ())),
            _ => GuardOutcome::Success(JsonContent),
        }
    }
}

/// Reads a whole body of at most `limit` bytes; longer is 413 with `code`.
///
/// # Errors
/// 413 when too long, 400 when the connection fails mid-body.
pub async fn read_body(
    data: Data<'_>,
    limit: u64,
    code: &'static str,
) -> Result<Vec<u8>, ApiError> {
    let capped = data
        .open(limit.bytes())
        .into_bytes()
        .await
        .map_err(|e| ApiError::bad_request("bad_request", format!("cannot read body: {e}")))?;
    if !capped.is_complete() {
        return Err(ApiError::new(
            Status::PayloadTooLarge,
            code,
            format!("the body is longer than {limit} bytes"),
        ));
    }
    Ok(capped.into_inner())
}

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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
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
        return Ok(m);
    }
    let unknown = || {
        ApiError::new(
            Status::Forbidden,
            "unknown_meter",
            format!("no meter is registered with key {key_id}"),
        )
    };
    if shared.cache.is_known_unknown(key_id) {
        return Err(unknown());
    }
    let client = db.get().await.map_err(|e| ApiError::database(&e))?;
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
async fn check(shared: &Shared, db: &Db, raw: &[u8]) -> Result<NewReading, ApiError> {
    let signed = SignedReading::from_json(raw)?;
    let meter = match lookup(shared, db, &signed.key_id()).await {
        Ok(meter) => meter,
        // Spec section 9: the carried key's policy (step 9) comes before the
        // lookup's verdict (step 10); a found key needs no such check, since
        // equal key ids mean the carried key is the registered one.
        Err(not_found) => {
            signed
                .carried_key()
                .map_err(|e| ApiError::new(Status::BadRequest, e.code(), e.to_string()))?;
            return Err(not_found);
        }
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
    let now = now_ms();
    if reading.timestamp_ms > now.saturating_add(skew_ms) {
        return Err(ApiError::new(
            Status::UnprocessableEntity,
            "timestamp_in_future",
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
        Status::Forbidden,
        "meter_revoked",
        format!("meter {key_id} is revoked"),
    )
}

/// The error for a policy outcome of the database.
fn policy_error(code: &'static str, r: &Reading) -> ApiError {
    match code {
        "stale_sequence" => ApiError::new(
            Status::Conflict,
            code,
            format!(
                "sequence {} is not after the last stored sequence and is not an exact re-send",
                r.sequence
            ),
        ),
        "timestamp_backwards" => ApiError::new(
            Status::Conflict,
            code,
            format!(
                "timestamp {} ms is before the last stored reading's",
                r.timestamp_ms
            ),
        ),
        "register_decreased" => ApiError::new(
            Status::Conflict,
            code,
            "a register is lower than in the last stored reading",
        ),
        "meter_revoked" => ApiError::new(Status::Forbidden, code, "the meter is revoked"),
        _ => ApiError::new(
            Status::Forbidden,
            "unknown_meter",
            "the meter is not registered",
        ),
    }
}

fn record(shared: &Shared, result: Result<&Outcome, &ApiError>) {
    match result {
        Ok(Outcome::Accepted { gap }) => shared.metrics.accepted(*gap),
        Ok(Outcome::Duplicate) => shared.metrics.duplicate(),
        Ok(Outcome::Rejected(code)) => shared.metrics.rejected(code),
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
    _json: JsonContent,
    body: Data<'_>,
) -> Result<(Status, Json<Accepted>), ApiError> {
    let result = async {
        let raw = read_body(body, READING_BODY_LIMIT, "reading_too_large").await?;
        let item = check(shared, db, &raw).await?;
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
    record(shared, result.as_ref().map(|(outcome, ..)| outcome));
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
        Outcome::Rejected(code) => Err(policy_error(code, &reading)),
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

/// `POST /reportReadings`: `{"readings": [...]}`, at most
/// [`MAX_BATCH_LEN`] signed readings, stored in order in one transaction.
/// 200 with one result per reading once committed.
#[post("/reportReadings", data = "<body>")]
async fn report_batch(
    shared: &State<Arc<Shared>>,
    db: &State<Db>,
    committer: &State<Committer>,
    _json: JsonContent,
    body: Data<'_>,
) -> Result<Json<BatchAnswer>, ApiError> {
    let raw = read_body(body, BATCH_BODY_LIMIT, "body_too_large").await?;
    let batch: Batch<'_> = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("malformed json: {e}")))?;
    if batch.readings.len() > MAX_BATCH_LEN {
        return Err(ApiError::new(
            Status::PayloadTooLarge,
            "batch_too_large",
            format!(
                "a batch holds at most {MAX_BATCH_LEN} readings, got {}",
                batch.readings.len()
            ),
        ));
    }
    let mut results: Vec<Option<BatchResult>> = Vec::with_capacity(batch.readings.len());
    let mut items = Vec::new();
    let mut positions = Vec::new();
    for (index, raw) in batch.readings.iter().enumerate() {
        match check(shared, db, raw.get().as_bytes()).await {
            Ok(item) => {
                items.push(item);
                positions.push(index);
                results.push(None);
            }
            Err(e) => {
                if e.status.code >= 500 {
                    return Err(e);
                }
                shared.metrics.rejected(e.code);
                results.push(Some(rejected(index, None, &e)));
            }
        }
    }
    let readings: Vec<Reading> = items.iter().map(|item| item.reading).collect();
    let outcomes = committer.store(items).await?;
    for ((reading, index), outcome) in readings.iter().zip(positions).zip(outcomes) {
        record(shared, Ok(&outcome));
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
            Outcome::Rejected(code) => rejected(index, sequence, &policy_error(code, reading)),
        };
        if let Some(slot) = results.get_mut(index) {
            *slot = Some(result);
        }
    }
    let results: Vec<BatchResult> = results.into_iter().flatten().collect();
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    Ok(Json(BatchAnswer {
        accepted: count("accepted"),
        duplicates: count("duplicate"),
        rejected: count("rejected"),
        results,
    }))
}

/// Routes of the public listener for readings in.
pub fn public_routes() -> Vec<Route> {
    routes![report, report_batch]
}
