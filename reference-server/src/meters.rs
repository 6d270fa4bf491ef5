//! Meters: registration, revocation and listing (operator listener), and the
//! reads that return readings with everything needed to verify them again
//! (both listeners, with the operator or the read-only token).

use std::sync::Arc;

use rocket::data::Data;
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State, get, post, routes};
use rocket_db_pools::Connection;
use smartmeter_api::limits::{
    DEFAULT_PAGE_LEN, MAX_PAGE_LEN, MAX_USERNAME_LEN, REGISTER_BODY_LIMIT,
};
use smartmeter_api::{
    MeterDetail, MeterPage, MeterView, ReadingPage, ReadingView, RegisterRequest,
};
use smartmeter_core::{KeyId, KeyIdParseError, PublicKey};

use crate::Shared;
use crate::auth::{Operator, Reader};
use crate::db::{self, Db, MeterRow, ReadingQuery, StoredReading};
use crate::error::{ApiError, ServerCode};
use crate::http::{JsonContent, KeyIdParam, Query, TooLarge, Trace, read_body};

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
            ServerCode::InvalidUsername,
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

/// The API's view of a meter's row.
fn meter_view(m: &MeterRow) -> MeterView {
    MeterView {
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

/// The API's view of a stored reading.
fn reading_view(r: StoredReading) -> ReadingView {
    ReadingView {
        signed: r.signed,
        received_at: r.received_at,
    }
}

/// `POST /register` (operator): `{"username": "...", "public_key": "..."}`.
#[post("/register", data = "<body>")]
async fn register(
    _op: Operator,
    shared: &State<Arc<Shared>>,
    trace: &Trace,
    _json: JsonContent,
    body: Data<'_>,
    conn: Connection<Db>,
) -> Result<(Status, Json<MeterView>), ApiError> {
    let raw = read_body(
        body,
        REGISTER_BODY_LIMIT,
        TooLarge::Server(ServerCode::BodyTooLarge),
    )
    .await?;
    let req: RegisterRequest =
        serde_json::from_slice(&raw).map_err(|e| ApiError::malformed_json(&e))?;
    check_username(&req.username)?;
    let key = parse_key(&req.public_key)?;
    let key_id = key.key_id();
    trace.set_key_id(key_id);
    let row = match shared.cluster.get() {
        // Cluster mode: the key's shard, then the registry bucket.
        Some(node) => node.register(&req.username, &key).await,
        None => db::register(&*conn, &req.username, &key).await,
    }
    .map_err(|e| ApiError::from_register(e, &req.username, &key_id))?;
    shared.cache.invalidate(&key_id);
    tracing::info!(username = %row.username, key_id = %key_id, "registered meter");
    Ok((Status::Created, Json(meter_view(&row))))
}

/// `POST /meters/<key_id>/revoke` (operator): later readings are rejected
/// with `meter_revoked`; stored readings stay. Idempotent.
#[post("/meters/<key_id>/revoke")]
async fn revoke(
    _op: Operator,
    shared: &State<Arc<Shared>>,
    key_id: Result<KeyIdParam, KeyIdParseError>,
    trace: &Trace,
    conn: Connection<Db>,
) -> Result<Json<MeterView>, ApiError> {
    let key_id = crate::http::key_id(key_id)?;
    trace.set_key_id(key_id);
    let row = match shared.cluster.get() {
        // Cluster mode: the shard, then the bucket, then this node's cache
        // (at the bucket's revision, so that no older read replaces it).
        Some(node) => node.revoke(shared, &key_id).await?,
        None => {
            let row = db::revoke(&*conn, &key_id).await?;
            shared.cache.invalidate(&key_id);
            row
        }
    };
    let row = row.ok_or_else(|| not_found(&key_id))?;
    shared.states.update(row.id, row.state);
    tracing::info!(key_id = %key_id, "revoked meter");
    Ok(Json(meter_view(&row)))
}

/// In cluster mode, a connection to the shard that holds the key's meter
/// (reads route by key id); `None` in single-node mode.
async fn shard(shared: &Shared, key_id: &KeyId) -> Result<Option<db::Client>, ApiError> {
    match shared.cluster.get() {
        Some(node) => Ok(Some(node.shard_client(key_id).await?)),
        None => Ok(None),
    }
}

fn not_found(key_id: &KeyId) -> ApiError {
    ApiError::new(
        ServerCode::MeterNotFound,
        format!("no meter is registered with key {key_id}"),
    )
}

fn page_limit(query: &Query<'_>) -> Result<u32, ApiError> {
    Ok(query
        .integer("limit", 1, MAX_PAGE_LEN)?
        .unwrap_or(DEFAULT_PAGE_LEN))
}

/// `GET /meters?after=&limit=` (read or operator token): meters in id order.
#[get("/meters")]
async fn list(
    _reader: Reader,
    query: Query<'_>,
    conn: Connection<Db>,
) -> Result<Json<MeterPage>, ApiError> {
    let after = query.integer("after", 0, i64::MAX)?.unwrap_or(0);
    let limit = page_limit(&query)?;
    let page = db::list_meters(&*conn, after, limit).await?;
    let next_after = if page.more {
        page.items.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(MeterPage {
        meters: page.items.iter().map(meter_view).collect(),
        next_after,
    }))
}

/// `GET /meters/<key_id>` (read or operator token).
#[get("/meters/<key_id>", rank = 2)]
async fn meter(
    _reader: Reader,
    shared: &State<Arc<Shared>>,
    key_id: Result<KeyIdParam, KeyIdParseError>,
    trace: &Trace,
    conn: Connection<Db>,
) -> Result<Json<MeterDetail>, ApiError> {
    let key_id = crate::http::key_id(key_id)?;
    trace.set_key_id(key_id);
    let shard = shard(shared, &key_id).await?;
    let conn: &db::Client = match &shard {
        Some(c) => c,
        None => &conn,
    };
    let row = db::meter_by_key(conn, &key_id)
        .await?
        .ok_or_else(|| not_found(&key_id))?;
    let latest = db::latest_reading(conn, &row).await?;
    Ok(Json(MeterDetail {
        meter: meter_view(&row),
        latest: latest.map(reading_view),
    }))
}

/// `GET /meters/<key_id>/readings?from=&to=&after=&limit=` (read or operator token).
#[get("/meters/<key_id>/readings")]
async fn readings(
    _reader: Reader,
    shared: &State<Arc<Shared>>,
    key_id: Result<KeyIdParam, KeyIdParseError>,
    query: Query<'_>,
    trace: &Trace,
    conn: Connection<Db>,
) -> Result<Json<ReadingPage>, ApiError> {
    let key_id = crate::http::key_id(key_id)?;
    trace.set_key_id(key_id);
    let shard = shard(shared, &key_id).await?;
    let conn: &db::Client = match &shard {
        Some(c) => c,
        None => &conn,
    };
    let q = ReadingQuery {
        from: query.integer("from", 0, u64::MAX)?,
        to: query.integer("to", 0, u64::MAX)?,
        after: query.integer("after", 0, u64::MAX)?,
        limit: page_limit(&query)?,
    };
    let row = db::meter_by_key(conn, &key_id)
        .await?
        .ok_or_else(|| not_found(&key_id))?;
    let page = db::readings(conn, &row, q).await?;
    let next_after = if page.more {
        page.items.last().map(|r| r.signed.reading().sequence)
    } else {
        None
    };
    Ok(Json(ReadingPage {
        key_id: key_id.to_string(),
        public_key: row.public_key.to_base64(),
        readings: page.items.into_iter().map(reading_view).collect(),
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
