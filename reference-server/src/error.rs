//! The one error type of the API: a status, a stable code and a message,
//! sent as `{"error": "<code>", "message": "<text>"}`.
//!
//! Errors about a reading or a key carry the core's own `code()` strings
//! unchanged, with the status chosen here (the `From` impls below). The codes
//! the server adds are declared once, with their status, in [`ServerCode`];
//! `docs/api.md`'s table of errors is checked against that declaration.
//!
//! The lower layers (database, commit queue, rate limiter) return their own
//! error types; they are turned into an [`ApiError`] here, at the route edge.

use rocket::http::{ContentType, Header, Method, Status};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use rocket::{Catcher, catcher};
use serde::Serialize;
use smartmeter_core::ErrorCode;

use crate::committer::CommitError;
use crate::db::{DbError, RegisterError};
use crate::http::Trace;

/// Declares every code the server adds, with its HTTP status and when it is
/// sent; generates [`ServerCode`] and its accessors.
macro_rules! server_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = ($status:literal, $code:literal, $when:literal); )*) => {
        /// An error code the server itself sends (the core's codes come from
        /// the core). One code string may appear with two statuses, as two
        /// variants (`unknown_meter`: 403 for a reading, 404 for a read).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ServerCode {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl ServerCode {
            /// Every code, in the order of `docs/api.md`'s table.
            pub const ALL: &'static [ServerCode] = &[$(ServerCode::$variant),*];

            /// The code string sent in `error`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $code,)* }
            }

            /// The HTTP status sent with this code.
            pub const fn status(self) -> Status {
                match self { $(Self::$variant => Status::new($status),)* }
            }

            /// When the code is sent (the last column of `docs/api.md`'s table).
            pub const fn when(self) -> &'static str {
                match self { $(Self::$variant => $when,)* }
            }
        }
    };
}

server_codes! {
    /// A query parameter is malformed, out of range or repeated.
    InvalidParameter = (400, "invalid_parameter", "a query parameter is not a number in range, or is given twice");
    /// Any other malformed request.
    BadRequest = (400, "bad_request", "any other malformed request");
    /// No or a wrong bearer token.
    Unauthorized = (401, "unauthorized", "no bearer token, or a wrong one");
    /// The read token on an operator route.
    Forbidden = (403, "forbidden", "the read token on an operator route");
    /// A reading whose key is not registered.
    UnknownMeter = (403, "unknown_meter", "a reading whose key is not registered (nothing stored)");
    /// A reading of a revoked meter.
    MeterRevoked = (403, "meter_revoked", "a reading of a revoked meter");
    /// No route has this path.
    NotFound = (404, "not_found", "no route has this path (or `/register` on the public listener)");
    /// Reads or revocation of a meter that is not registered.
    MeterNotFound = (404, "unknown_meter", "reads or revocation of a meter that is not registered");
    /// The path exists for other methods only.
    MethodNotAllowed = (405, "method_not_allowed", "the path exists, but not for this method (`Allow` lists those it has)");
    /// Registration with a username in use.
    UsernameTaken = (409, "username_taken", "registration with a username that is taken");
    /// Registration of a key that is registered.
    KeyAlreadyRegistered = (409, "key_already_registered", "registration of a key that is already registered");
    /// A body over its route's limit.
    BodyTooLarge = (413, "body_too_large", "`/register` or `/reportReadings` body over its limit");
    /// Too many readings in a batch.
    BatchTooLarge = (413, "batch_too_large", "more than 256 readings in a batch");
    /// A body declared as something other than JSON.
    UnsupportedMediaType = (415, "unsupported_media_type", "a body declared as something other than JSON");
    /// Username outside the allowed form.
    InvalidUsername = (422, "invalid_username", "username outside the allowed form");
    /// The meter's readings arrive faster than its rate limit.
    RateLimited = (429, "rate_limited", "the meter's readings exceed its rate limit (nothing stored; `Retry-After` says when to retry)");
    /// A server fault.
    InternalError = (500, "internal_error", "a server fault (logged)");
    /// PostgreSQL unreachable or failing.
    DatabaseUnavailable = (503, "database_unavailable", "PostgreSQL unreachable or failing; retry later");
    /// Cluster mode: the stream cannot take the reading or no verdict came in time.
    ClusterUnavailable = (503, "cluster_unavailable", "cluster mode: the stream has no quorum or no store worker answered in time; nothing promised, send again later");
}

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

/// The JSON body of every error.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    /// The stable code.
    pub error: &'a str,
    /// The explanation.
    pub message: &'a str,
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
        Self::core(code.status(), code.as_str(), message)
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
        error: code,
        message,
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

    #[test]
    fn codes_are_distinct_per_status() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ServerCode::ALL {
            assert!(seen.insert((c.status().code, c.as_str())), "{c:?}");
            assert!(c.status().code >= 400);
        }
    }
}
