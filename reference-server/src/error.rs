//! The one error type of the API: a status, a stable code and a message,
//! sent as `{"error": "<code>", "message": "<text>"}`.
//!
//! Errors about a reading or a key carry the core's own `code()` strings
//! unchanged, with the status chosen here (the `From` impls below). The codes
//! the server adds are declared once, with their status, in [`ServerCode`]
//! (in `smartmeter-api`, which the simulator shares); `docs/api.md`'s table
//! of errors is checked against that declaration.
//!
//! The lower layers (database, commit queue, rate limiter) return their own
//! error types; they are turned into an [`ApiError`] here, at the route edge.

use rocket::http::{ContentType, Header, Method, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{Catcher, catcher};
use smartmeter_api::ErrorBody;
pub use smartmeter_api::ServerCode;
use smartmeter_core::ErrorCode;

use crate::committer::CommitError;
use crate::db::{DbError, RegisterError};
use crate::http::Trace;

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: Status,
    /// Stable machine-readable code: a [`ServerCode`] or a core code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Seconds to wait before retrying (`Retry-After`), for 429.
    pub retry_after: Option<u64>,
    /// Methods the path has (`Allow`), for 405.
    pub allow: Option<String>,
}

impl ApiError {
    /// An error with a core code and the status the server gives it.
    fn core(status: Status, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            allow: None,
        }
    }

    /// An error with one of the server's codes, at that code's status.
    pub fn new(code: ServerCode, message: impl Into<String>) -> Self {
        Self::core(Status::new(code.status()), code.as_str(), message)
    }

    /// 503: PostgreSQL cannot be reached or failed; the cause is logged, not sent.
    pub fn database(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "database error");
        Self::new(
            ServerCode::DatabaseUnavailable,
            "the database is unavailable, retry later",
        )
    }

    /// 500: a server fault; the cause is logged, not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ServerCode::InternalError, "internal server error")
    }

    /// 400 `malformed_json` (the core's code) for a request envelope
    /// (`/register`, `/reportReadings`) that is not the expected JSON.
    pub fn malformed_json(cause: &serde_json::Error) -> Self {
        Self::from(smartmeter_core::WireError::Json(cause.to_string()))
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        json_body(self.code, &self.message)
    }
}

fn json_body(code: &str, message: &str) -> String {
    serde_json::to_string(&ErrorBody {
        error: code.into(),
        message: message.into(),
    })
    // Serialising two strings cannot fail; should it, the answer is still JSON.
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
        Self::core(status, e.code(), e.to_string())
    }
}

/// A bad key at registration: 422 with the core's code (key text or key
/// policy).
impl From<smartmeter_core::KeyError> for ApiError {
    fn from(e: smartmeter_core::KeyError) -> Self {
        Self::core(Status::UnprocessableEntity, e.code(), e.to_string())
    }
}

impl ApiError {
    /// The key a reading carries is out of the key policy: 400 with the
    /// core's code, as for any other malformed reading.
    pub fn key_in_reading(e: &smartmeter_core::KeyError) -> Self {
        Self::core(Status::BadRequest, e.code(), e.to_string())
    }

    /// A refusal by the core's history rules, with the status the server
    /// gives its code ([`policy_status`]).
    pub fn policy(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::core(policy_status(code), code.as_str(), message)
    }
}

/// The HTTP status of each of the core's policy codes; the codes themselves
/// are the core's (`smartmeter_core::ErrorCode`, family `policy`). A reading
/// from the future is unprocessable as sent (422); the others contradict
/// what is stored (409).
pub const fn policy_status(code: ErrorCode) -> Status {
    match code {
        ErrorCode::TimestampInFuture => Status::UnprocessableEntity,
        _ => Status::Conflict,
    }
}

impl From<smartmeter_core::policy::PolicyError> for ApiError {
    fn from(e: smartmeter_core::policy::PolicyError) -> Self {
        Self::policy(e.error_code(), e.to_string())
    }
}

impl From<smartmeter_core::VerifyError> for ApiError {
    fn from(e: smartmeter_core::VerifyError) -> Self {
        Self::core(Status::UnprocessableEntity, e.code(), e.to_string())
    }
}

impl From<smartmeter_core::KeyIdParseError> for ApiError {
    fn from(e: smartmeter_core::KeyIdParseError) -> Self {
        Self::core(Status::BadRequest, e.code(), e.to_string())
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable(_) => Self::database(&e),
            DbError::Corrupt(_) => Self::internal(&e),
        }
    }
}

/// 503 `cluster_unavailable`, with the reason: it tells the meter what to
/// do (send again) and names no secret.
impl From<crate::cluster::ClusterError> for ApiError {
    fn from(e: crate::cluster::ClusterError) -> Self {
        tracing::warn!(error = %e, "cluster unavailable");
        Self::new(ServerCode::ClusterUnavailable, e.to_string())
    }
}

impl From<CommitError> for ApiError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Database(_) => Self::database(&e),
            CommitError::Stopped | CommitError::Clock => Self::internal(&e),
            CommitError::Cluster(e) => Self::from(e),
        }
    }
}

impl ApiError {
    /// The answer to a refused registration.
    pub fn from_register(
        e: RegisterError,
        username: &str,
        key_id: &smartmeter_core::KeyId,
    ) -> Self {
        match e {
            RegisterError::Username => Self::new(
                ServerCode::UsernameTaken,
                format!("username {username:?} is already registered"),
            ),
            RegisterError::Key => Self::new(
                ServerCode::KeyAlreadyRegistered,
                format!("key {key_id} is already registered"),
            ),
            // A row that was just inserted and does not read back is a
            // fault of this server, never the client's conflict.
            RegisterError::Db(e) => Self::from(e),
        }
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        req.local_cache(Trace::default).set_code(self.code);
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
        if let Some(secs) = self.retry_after {
            response.header(Header::new("Retry-After", secs.to_string()));
        }
        if let Some(allow) = self.allow {
            response.header(Header::new("Allow", allow));
        }
        response.ok()
    }
}

/// True when a route path (`/meters/<key_id>`, `/dashboard/<path..>`)
/// matches a request path.
fn path_matches(route: &str, path: &str) -> bool {
    let mut want = route.split('/').filter(|s| !s.is_empty());
    let mut have = path.split('/').filter(|s| !s.is_empty());
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some(w), _) if w.starts_with('<') && w.ends_with("..>") => return true,
            (Some(w), Some(h)) => {
                if !(w == h || (w.starts_with('<') && w.ends_with('>'))) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The methods that the mounted routes offer for this request's path
/// (HEAD too where there is GET: Rocket answers it), as an `Allow` value;
/// `None` when no route has the path.
fn allowed_methods(req: &Request<'_>) -> Option<(Vec<Method>, String)> {
    let path = req.uri().path();
    let mut methods: Vec<Method> = req
        .rocket()
        .routes()
        .filter(|r| path_matches(r.uri.path(), path.as_str()))
        .map(|r| r.method)
        .collect();
    if methods.is_empty() {
        return None;
    }
    if methods.contains(&Method::Get) {
        methods.push(Method::Head);
    }
    methods.sort_by_key(|m| m.as_str());
    methods.dedup();
    let allow = methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Some((methods, allow))
}

/// 405 with `Allow`.
fn method_not_allowed(method: &str, allow: String) -> ApiError {
    let mut e = ApiError::new(
        ServerCode::MethodNotAllowed,
        format!("{method} is not allowed here; allowed: {allow}"),
    );
    e.allow = Some(allow);
    e
}

/// The code and message a catcher sends for a status that no handler
/// answered itself (guard failures, unknown routes, Rocket's own limits).
fn catcher_error(status: Status, req: &Request<'_>) -> ApiError {
    let (code, message) = match status.code {
        // Rocket answers 400 before routing when the method is one it does
        // not know (QUERY, PROPFIND...): the request it hands the catcher is
        // a salvaged GET that was never routed, with the real path (an
        // unparsable target would be `/`, which has no route). On a path
        // that exists, that is a method this path does not have.
        400 if req.route().is_none() => match allowed_methods(req) {
            Some((_, allow)) => return method_not_allowed("this method", allow),
            None => (ServerCode::BadRequest, "the request is malformed"),
        },
        401 => (
            ServerCode::Unauthorized,
            "a valid `Authorization: Bearer <token>` header is required",
        ),
        403 => (
            ServerCode::Forbidden,
            "this token does not grant this request",
        ),
        404 => match allowed_methods(req) {
            Some((methods, allow)) if !methods.contains(&req.method()) => {
                return method_not_allowed(req.method().as_str(), allow);
            }
            _ => (ServerCode::NotFound, "no such resource"),
        },
        413 => (ServerCode::BodyTooLarge, "the request body is too large"),
        415 => (
            ServerCode::UnsupportedMediaType,
            "the body must be application/json",
        ),
        503 => (
            ServerCode::DatabaseUnavailable,
            "the database is unavailable, retry later",
        ),
        500..=599 => (ServerCode::InternalError, "internal server error"),
        _ => (ServerCode::BadRequest, "the request is malformed"),
    };
    let mut e = ApiError::new(code, message);
    // Keep the status Rocket decided (a 4xx without a code of its own is
    // still that 4xx; a 5xx other than 503 is still that 5xx).
    e.status = status;
    e
}

fn default_catcher<'r>(status: Status, req: &'r Request<'_>) -> catcher::BoxFuture<'r> {
    Box::pin(async move { catcher_error(status, req).respond_to(req) })
}

/// The catchers of both listeners: every error is JSON, never Rocket's HTML.
pub fn catchers() -> Vec<Catcher> {
    vec![Catcher::new(None, default_catcher)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_paths_match() {
        assert!(path_matches("/meters/<key_id>", "/meters/abc"));
        assert!(path_matches(
            "/meters/<key_id>/readings",
            "/meters/abc/readings"
        ));
        assert!(!path_matches("/meters/<key_id>", "/meters/abc/readings"));
        assert!(!path_matches("/meters/<key_id>", "/meters"));
        assert!(path_matches("/dashboard/<path..>", "/dashboard/a/b"));
        assert!(path_matches("/reportReading", "/reportReading"));
        assert!(!path_matches("/reportReading", "/reportReadings"));
    }
}
