//! Operations: `/health` on both listeners, `/metrics` on the operator's.

use std::sync::Arc;
use std::time::Duration;

use rocket::http::ContentType;
use rocket::serde::json::Json;
use rocket::{Route, State, get, routes};
use serde::Serialize;

use crate::Shared;
use crate::auth::Operator;
use crate::db::{self, Db};
use crate::error::ApiError;

/// The answer of `/health`.
#[derive(Debug, Serialize)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
    /// `ok`: PostgreSQL answered.
    pub database: &'static str,
}

/// `GET /health`: 200 when PostgreSQL answers within 2 s, else 503. No token.
#[get("/health")]
async fn health(db: &State<Db>) -> Result<Json<Health>, ApiError> {
    let check = async {
        let client = db.get().await?;
        db::ping(&client).await
    };
    match rocket::tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(())) => Ok(Json(Health {
            status: "ok",
            database: "ok",
        })),
        Ok(Err(e)) => Err(ApiError::from(e)),
        Err(_) => Err(ApiError::database(&"health check timed out")),
    }
}

/// `GET /metrics` (operator token): Prometheus text format.
#[get("/metrics")]
fn metrics(_op: Operator, shared: &State<Arc<Shared>>) -> Result<(ContentType, String), ApiError> {
    let ct = ContentType::parse_flexible(crate::metrics::CONTENT_TYPE)
        .ok_or_else(|| ApiError::internal(&"the metrics content type does not parse"))?;
    let text = shared.metrics.render(
        shared.cache.len(),
        shared.states.len(),
        shared.limiter.len(),
    );
    Ok((ct, text))
}

/// Routes of the public listener.
pub fn public_routes() -> Vec<Route> {
    routes![health]
}

/// Routes of the operator listener.
pub fn operator_routes() -> Vec<Route> {
    routes![health, metrics]
}
