//! The one error type of the API: a status, a stable code and a message,
//! sent as `{"error": "<code>", "message": "<text>"}`.
//!
//! Errors about a reading or a key carry the core's own `code()` strings
//! unchanged; the codes the server adds are listed in [`SERVER_ERROR_CODES`].

use rocket::http::{ContentType, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{Catcher, catcher};
use serde::Serialize;

/// Every error code the server itself adds to the core's codes.
pub const SERVER_ERROR_CODES: &[&str] = &[
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "body_too_large",
    "batch_too_large",
    "unsupported_media_type",
    "unprocessable",
    "invalid_username",
    "invalid_parameter",
    "username_taken",
    "key_already_registered",
    "unknown_meter",
    "meter_revoked",
    "stale_sequence",
    "timestamp_in_future",
    "timestamp_backwards",
    "register_decreased",
    "database_unavailable",
    "internal_error",
];

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: Status,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

/// The JSON body of every error.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The stable code.
    pub error: &'a str,
    /// The explanation.
    pub message: &'a str,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: Status, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Status::BadRequest, code, message)
    }

    /// 503: PostgreSQL cannot be reached or failed; the cause is logged, not sent.
    pub fn database(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "database error");
        Self::new(
            Status::ServiceUnavailable,
            "database_unavailable",
            "the database is unavailable, retry later",
        )
    }

    /// 500: a server fault; the cause is logged, not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            Status::InternalServerError,
            "internal_error",
            "internal server error",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        json_body(self.code, &self.message)
    }
}

fn json_body(code: &str, message: &str) -> String {
    serde_json::to_string(&ErrorBody {
        error: code,
        message,
    })
    .unwrap_or_else(|_| String::from("{\"error\":\"internal_error\",\"message\":\"\"}"))
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl From<smartmeter_core::WireError> for ApiError {
    fn from(e: smartmeter_core::WireError) -> Self {
        let status = match e {
            smartmeter_core::WireError::TooLarge { .. } => Status::PayloadTooLarge,
            _ => Status::BadRequest,
        };
        Self::new(status, e.code(), e.to_string())
    }
}

impl From<smartmeter_core::KeyError> for ApiError {
    fn from(e: smartmeter_core::KeyError) -> Self {
        Self::new(Status::UnprocessableEntity, e.code(), e.to_string())
    }
}

impl From<smartmeter_core::VerifyError> for ApiError {
    fn from(e: smartmeter_core::VerifyError) -> Self {
        Self::new(Status::UnprocessableEntity, e.code(), e.to_string())
    }
}

impl From<smartmeter_core::KeyIdParseError> for ApiError {
    fn from(e: smartmeter_core::KeyIdParseError) -> Self {
        Self::new(Status::BadRequest, e.code(), e.to_string())
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, _req: &'r Request<'_>) -> response::Result<'static> {
        if self.status.code >= 500 {
            tracing::warn!(
                status = self.status.code,
                code = self.code,
                "request failed"
            );
        } else {
            tracing::debug!(status = self.status.code, code = self.code, message = %self.message, "request rejected");
        }
        let body = self.body();
        let mut response = Response::build();
        response
            .status(self.status)
            .header(ContentType::JSON)
            .sized_body(body.len(), std::io::Cursor::new(body));
        if self.status == Status::Unauthorized {
            // RFC 6750 section 3.
            response.raw_header("WWW-Authenticate", "Bearer");
        }
        response.ok()
    }
}

/// The code and message a catcher sends for a status that no handler
/// answered itself (guard failures, unknown routes, Rocket's own limits).
fn catcher_error(status: Status) -> ApiError {
    let (code, message) = match status.code {
        400 => ("bad_request", "the request is malformed"),
        401 => (
            "unauthorized",
            "a valid `Authorization: Bearer <token>` header is required",
        ),
        403 => ("forbidden", "this token does not grant this request"),
        404 => ("not_found", "no such resource"),
        405 => ("method_not_allowed", "method not allowed"),
        413 => ("body_too_large", "the request body is too large"),
        415 => (
            "unsupported_media_type",
            "the body must be application/json",
        ),
        422 => ("unprocessable", "the request body has the wrong shape"),
        503 => (
            "database_unavailable",
            "the database is unavailable, retry later",
        ),
        500..=599 => ("internal_error", "internal server error"),
        _ => ("bad_request", "the request cannot be served"),
    };
    ApiError::new(status, code, message)
}

fn default_catcher<'r>(status: Status, req: &'r Request<'_>) -> catcher::BoxFuture<'r> {
    Box::pin(async move { catcher_error(status).respond_to(req) })
}

/// The catchers of both listeners: every error is JSON, never Rocket's HTML.
pub fn catchers() -> Vec<Catcher> {
    vec![Catcher::new(None, default_catcher)]
}
