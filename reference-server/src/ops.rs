//! Operations: `/health` on both listeners, `/metrics` on the operator's.

use std::sync::Arc;
use std::time::Duration;

use rocket::http::{ContentType, Status};
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
        let client = db.get().await.map_err(|e| e.to_string())?;
        db::ping(&client).await.map_err(|e| e.to_string())
    };
    match rocket::tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(())) => Ok(Json(Health {
            status: "ok",
            database: "ok",
        })),
        Ok(Err(e)) => Err(ApiError::database(&e)),
        Err(_) => Err(ApiError::database(&"health check timed out")),
    }
}

/// `GET /metrics` (operator token): Prometheus text format.
#[get("/metrics")]
fn metrics(_op: Operator, shared: &State<Arc<Shared>>) -> (Status, (ContentType, String)) {
    let ct =
        ContentType::new("text", "plain").with_params([("version", "0.0.4"), ("charset", "utf-8")]);
    (Status::Ok, (ct, shared.metrics.render()))
}

/// Routes of the public listener.
pub fn public_routes() -> Vec<Route> {
    routes![health]
}

/// Routes of the operator listener.
pub fn operator_routes() -> Vec<Route> {
    routes![health, metrics]
}
