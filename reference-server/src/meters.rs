//! Meters: registration, revocation and listing (operator listener), and the
//! reads that return readings with everything needed to verify them again
//! (both listeners, with the operator or the read-only token).

use std::sync::Arc;

use rocket::data::Data;
use rocket::http::Status;
use rocket::request::FromParam;
use rocket::serde::json::Json;
use rocket::{Route, State, get, post, routes};
use rocket_db_pools::Connection;
use serde::{Deserialize, Serialize};
use smartmeter_core::{KeyId, KeyIdParseError, PublicKey, SignedReading};

use crate::Shared;
use crate::auth::{Operator, Reader};
use crate::config::{MAX_PAGE_LEN, REGISTER_BODY_LIMIT};
use crate::db::{self, Db, MeterRow, ReadingQuery, RegisterError, StoredReading};
use crate::error::ApiError;
use crate::readings::{JsonContent, read_body};

/// Longest accepted username, in bytes.
pub const MAX_USERNAME_LEN: usize = 64;

/// A key id in a path: 64 hex digits.
#[derive(Debug, Clone, Copy)]
pub struct KeyIdParam(pub KeyId);

impl<'a> FromParam<'a> for KeyIdParam {
    type Error = KeyIdParseError;

    fn from_param(param: &'a str) -> Result<Self, Self::Error> {
        param.parse().map(KeyIdParam)
    }
}

fn key_id(param: Result<KeyIdParam, KeyIdParseError>) -> Result<KeyId, ApiError> {
    param.map(|p| p.0).map_err(ApiError::from)
}

/// Checks a username: 1 to 64 characters from `A-Z a-z 0-9 . _ -`.
///
/// # Errors
/// 422 `invalid_username`.
pub fn check_username(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_USERNAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            Status::UnprocessableEntity,
            "invalid_username",
            format!(
                "a username is 1 to {MAX_USERNAME_LEN} characters from A-Z, a-z, 0-9, '.', '_' and '-'"
            ),
        ))
    }
}

/// Parses key text with the core's one rule (`PublicKey::from_text`: PEM
/// or base64 of the DER, as OpenSSL and pyca/cryptography write them, at
/// most 8192 bytes) and the core's key policy.
///
/// # Errors
/// 422 with the core's key error code.
pub fn parse_key(text: &str) -> Result<PublicKey, ApiError> {
    PublicKey::from_text(text).map_err(ApiError::from)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterRequest {
    username: String,
    public_key: String,
}

/// A registered meter.
#[derive(Debug, Serialize)]
pub struct MeterView {
    /// Database id.
    pub id: i64,
    /// Username.
    pub username: String,
    /// Key id, 64 hex digits.
    pub key_id: String,
    /// Public key: base64 of the SubjectPublicKeyInfo DER.
    pub public_key: String,
    /// RFC 3339, UTC.
    pub registered_at: String,
    /// RFC 3339, UTC, or null.
    pub revoked_at: Option<String>,
    /// Stored readings.
    pub readings_count: i64,
    /// Accepted readings whose sequence skipped ahead.
    pub gap_count: i64,
}

impl From<&MeterRow> for MeterView {
    fn from(m: &MeterRow) -> Self {
        Self {
            id: m.id,
            username: m.username.clone(),
            key_id: m.public_key.key_id().to_string(),
            public_key: m.public_key.to_base64(),
            registered_at: m.registered_at.clone(),
            revoked_at: m.revoked_at.clone(),
            readings_count: m.readings_count,
            gap_count: m.gap_count,
        }
    }
}

/// A stored reading: the exact signed wire form, and when it was received.
#[derive(Debug, Serialize)]
pub struct ReadingView {
    /// The core's JSON wire form: verifiable with `SignedReading::from_json`.
    pub signed: SignedReading,
    /// RFC 3339, UTC.
    pub received_at: String,
}

impl From<StoredReading> for ReadingView {
    fn from(r: StoredReading) -> Self {
        Self {
            signed: r.signed,
            received_at: r.received_at,
        }
    }
}

/// `POST /register` (operator): `{"username": "...", "public_key": "..."}`.
#[post("/register", data = "<body>")]
async fn register(
    _op: Operator,
    shared: &State<Arc<Shared>>,
    _json: JsonContent,
    body: Data<'_>,
    conn: Connection<Db>,
) -> Result<(Status, Json<MeterView>), ApiError> {
    let raw = read_body(body, REGISTER_BODY_LIMIT, "body_too_large").await?;
    let req: RegisterRequest = serde_json::from_slice(&raw)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("malformed json: {e}")))?;
    check_username(&req.username)?;
    let key = parse_key(&req.public_key)?;
    match db::register(&*conn, &req.username, &key).await {
        Ok(row) => {
            shared.cache.invalidate(&key.key_id());
            tracing::info!(username = %row.username, key_id = %key.key_id(), "registered meter");
            Ok((Status::Created, Json(MeterView::from(&row))))
        }
        Err(RegisterError::Username) => Err(ApiError::new(
            Status::Conflict,
            "username_taken",
            format!("username {:?} is already registered", req.username),
        )),
        Err(RegisterError::Key) => Err(ApiError::new(
            Status::Conflict,
            "key_already_registered",
            format!("key {} is already registered", key.key_id()),
        )),
        Err(RegisterError::Db(e)) => Err(ApiError::database(&e)),
    }
}

/// `POST /meters/<key_id>/revoke` (operator): later readings are rejected
/// with `meter_revoked`; stored readings stay. Idempotent.
#[post("/meters/<key_id>/revoke")]
async fn revoke(
    _op: Operator,
    shared: &State<Arc<Shared>>,
    key_id: Result<KeyIdParam, KeyIdParseError>,
    conn: Connection<Db>,
) -> Result<Json<MeterView>, ApiError> {
    let key_id = self::key_id(key_id)?;
    let row = db::revoke(&*conn, &key_id).await?;
    shared.cache.invalidate(&key_id);
    let row = row.ok_or_else(|| not_found(&key_id))?;
    tracing::info!(key_id = %key_id, "revoked meter");
    Ok(Json(MeterView::from(&row)))
}

fn not_found(key_id: &KeyId) -> ApiError {
    ApiError::new(
        Status::NotFound,
        "unknown_meter",
        format!("no meter is registered with key {key_id}"),
    )
}

fn parse_param<T: std::str::FromStr>(
    name: &str,
    value: Option<&str>,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::bad_request(
                    "invalid_parameter",
                    format!("`{name}` must be an unsigned integer"),
                )
            })
        })
        .transpose()
}

fn page_limit(limit: Option<&str>) -> Result<u32, ApiError> {
    let limit = parse_param::<u32>("limit", limit)?.unwrap_or(100);
    if !(1..=MAX_PAGE_LEN).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_parameter",
            format!("`limit` must be between 1 and {MAX_PAGE_LEN}"),
        ));
    }
    Ok(limit)
}

/// A page of meters.
#[derive(Debug, Serialize)]
pub struct MeterPage {
    /// Meters in id order.
    pub meters: Vec<MeterView>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<i64>,
}

/// `GET /meters?after=&limit=` (read or operator token): meters in id order.
#[get("/meters?<after>&<limit>")]
async fn list(
    _reader: Reader,
    after: Option<&str>,
    limit: Option<&str>,
    conn: Connection<Db>,
) -> Result<Json<MeterPage>, ApiError> {
    let after = parse_param::<i64>("after", after)?.unwrap_or(0);
    let limit = page_limit(limit)?;
    let rows = db::list_meters(&*conn, after, i64::from(limit)).await?;
    let next_after = if rows.len() == limit as usize {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(MeterPage {
        meters: rows.iter().map(MeterView::from).collect(),
        next_after,
    }))
}

/// A meter with its latest reading.
#[derive(Debug, Serialize)]
pub struct MeterDetail {
    /// The registration.
    #[serde(flatten)]
    pub meter: MeterView,
    /// The reading with the highest sequence, or null.
    pub latest: Option<ReadingView>,
}

/// `GET /meters/<key_id>` (read or operator token).
#[get("/meters/<key_id>", rank = 2)]
async fn meter(
    _reader: Reader,
    key_id: Result<KeyIdParam, KeyIdParseError>,
    conn: Connection<Db>,
) -> Result<Json<MeterDetail>, ApiError> {
    let key_id = self::key_id(key_id)?;
    let row = db::meter_by_key(&*conn, &key_id)
        .await?
        .ok_or_else(|| not_found(&key_id))?;
    let latest = db::latest_reading(&*conn, &row).await?;
    Ok(Json(MeterDetail {
        meter: MeterView::from(&row),
        latest: latest.map(ReadingView::from),
    }))
}

/// A page of readings of one meter.
#[derive(Debug, Serialize)]
pub struct ReadingPage {
    /// Key id of the meter.
    pub key_id: String,
    /// The meter's public key (base64 DER); also inside every reading.
    pub public_key: String,
    /// Readings in sequence order.
    pub readings: Vec<ReadingView>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<u64>,
}

/// `GET /meters/<key_id>/readings?from=&to=&after=&limit=` (read or operator token).
#[get("/meters/<key_id>/readings?<from>&<to>&<after>&<limit>")]
async fn readings(
    _reader: Reader,
    key_id: Result<KeyIdParam, KeyIdParseError>,
    from: Option<&str>,
    to: Option<&str>,
    after: Option<&str>,
    limit: Option<&str>,
    conn: Connection<Db>,
) -> Result<Json<ReadingPage>, ApiError> {
    let key_id = self::key_id(key_id)?;
    let query = ReadingQuery {
        from: parse_param("from", from)?,
        to: parse_param("to", to)?,
        after: parse_param("after", after)?,
        limit: page_limit(limit)?,
    };
    let row = db::meter_by_key(&*conn, &key_id)
        .await?
        .ok_or_else(|| not_found(&key_id))?;
    let rows = db::readings(&*conn, &row, query).await?;
    let next_after = if rows.len() == query.limit as usize {
        rows.last().map(|r| r.signed.reading().sequence)
    } else {
        None
    };
    Ok(Json(ReadingPage {
        key_id: key_id.to_string(),
        public_key: row.public_key.to_base64(),
        readings: rows.into_iter().map(ReadingView::from).collect(),
        next_after,
    }))
}

/// Operator-only routes.
pub fn operator_routes() -> Vec<Route> {
    routes![register, revoke]
}

/// Read routes, mounted on both listeners.
pub fn read_routes() -> Vec<Route> {
    routes![list, meter, readings]
}
