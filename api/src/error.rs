//! The body of every error answer, and the codes the server adds to the
//! core's.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// `{"error": "<code>", "message": "<text>"}`: the body of every 4xx and
/// 5xx answer. The code is stable (the core's codes, for anything about a
/// reading or a key, and the server's own); the message is for people.
///
/// Borrowed when the server writes it, owned when a client reads it.
///
/// ```
/// use smartmeter_api::ErrorBody;
///
/// let body: ErrorBody<'_> = serde_json::from_str(r#"{"error":"high_s","message":"..."}"#)?;
/// assert_eq!(body.error, "high_s");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody<'a> {
    /// The stable machine-readable code.
    pub error: Cow<'a, str>,
    /// The explanation.
    pub message: Cow<'a, str>,
}

/// Declares every code the server adds, with its HTTP status and when it is
/// sent; generates [`ServerCode`] and its accessors.
macro_rules! server_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = ($status:literal, $code:literal, $when:literal); )*) => {
        /// An error code the server itself sends (the core's codes come from
        /// the core). One code string may appear with two statuses, as two
        /// variants (`unknown_meter`: 403 for a reading, 404 for a read).
        ///
        /// Declared here, with the API, so that the server sends and its
        /// clients (the simulator) match the same list.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
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
            pub const fn status(self) -> u16 {
                match self { $(Self::$variant => $status,)* }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::MAX_BATCH_LEN;

    #[test]
    fn codes_are_distinct_per_status() {
        let mut seen = std::collections::BTreeSet::new();
        for c in ServerCode::ALL {
            assert!(seen.insert((c.status(), c.as_str())), "{c:?}");
            assert!((400..600).contains(&c.status()), "{c:?}");
        }
    }

    /// The table's text names the limit; it must name the constant's value.
    #[test]
    fn batch_too_large_names_the_limit() {
        let when = ServerCode::BatchTooLarge.when();
        assert!(when.contains(&format!(" {MAX_BATCH_LEN} ")), "{when}");
    }
}
