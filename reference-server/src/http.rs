//! HTTP helpers shared by the route modules: the JSON content guard, the
//! bounded body reader, the key-id path parameter, strict query parameters
//! and the per-request trace that the request log reads.

use std::sync::OnceLock;
use std::time::Instant;

use rocket::data::{Data, ToByteUnit};
use rocket::http::Status;
use rocket::request::{FromParam, FromRequest, Outcome, Request};
use smartmeter_core::{KeyId, KeyIdParseError};

use crate::error::{ApiError, ServerCode};

/// Rejects a body that declares a content type other than JSON (415).
/// A body without a content type is read as JSON.
#[derive(Debug, Clone, Copy)]
pub struct JsonContent;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for JsonContent {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        match req.content_type() {
            Some(ct) if !ct.is_json() => Outcome::Error((Status::UnsupportedMediaType, ())),
            _ => Outcome::Success(JsonContent),
        }
    }
}

/// What to answer when a body is longer than its limit.
#[derive(Debug, Clone, Copy)]
pub enum TooLarge {
    /// 413 with one of the server's codes.
    Server(ServerCode),
    /// 413 `reading_too_large`, the core's code for one reading.
    Reading,
}

/// Reads a whole body of at most `limit` bytes; longer is 413.
///
/// # Errors
/// 413 when too long, 400 when the connection fails mid-body.
pub async fn read_body(
    data: Data<'_>,
    limit: u64,
    too_large: TooLarge,
) -> Result<Vec<u8>, ApiError> {
    let capped = data
        .open(limit.bytes())
        .into_bytes()
        .await
        .map_err(|e| ApiError::new(ServerCode::BadRequest, format!("cannot read body: {e}")))?;
    if !capped.is_complete() {
        let message = format!("the body is longer than {limit} bytes");
        return Err(match too_large {
            TooLarge::Server(code) => ApiError::new(code, message),
            TooLarge::Reading => {
                // The core's code for an over-long reading; the length read
                // is only the limit, so the message says no more than that.
                let mut e = ApiError::from(smartmeter_core::WireError::TooLarge {
                    len: capped.len(),
                    max: smartmeter_core::MAX_JSON_LEN,
                });
                e.message = message;
                e
            }
        });
    }
    Ok(capped.into_inner())
}

/// A key id in a path: 64 hex digits. Take it as
/// `Result<KeyIdParam, KeyIdParseError>` so that a malformed one is
/// answered 400 `malformed_key_id`, not forwarded to a 404.
#[derive(Debug, Clone, Copy)]
pub struct KeyIdParam(pub KeyId);

impl<'a> FromParam<'a> for KeyIdParam {
    type Error = KeyIdParseError;

    fn from_param(param: &'a str) -> Result<Self, Self::Error> {
        param.parse().map(KeyIdParam)
    }
}

/// The key id of a path parameter, or 400 `malformed_key_id`.
///
/// # Errors
/// 400 `malformed_key_id`.
pub fn key_id(param: Result<KeyIdParam, KeyIdParseError>) -> Result<KeyId, ApiError> {
    param.map(|p| p.0).map_err(ApiError::from)
}

/// The query parameters of a request, read strictly: a parameter given
/// twice is an error, not silently one of its values (Rocket's `Option`
/// form fields turn any error into `None`).
#[derive(Debug)]
pub struct Query<'r> {
    fields: Vec<(&'r str, &'r str)>,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Query<'r> {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        let fields = req
            .query_fields()
            .map(|f| (f.name.source().as_str(), f.value))
            .collect();
        Outcome::Success(Query { fields })
    }
}

impl<'r> Query<'r> {
    /// The query parameters as given (tests and embedding).
    pub fn new(fields: Vec<(&'r str, &'r str)>) -> Self {
        Self { fields }
    }

    /// Parameter `name` as an integer in `min..=max`, if given.
    ///
    /// # Errors
    /// 400 `invalid_parameter`: not an integer, out of range, or repeated.
    pub fn integer<T>(&self, name: &str, min: T, max: T) -> Result<Option<T>, ApiError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let mut values = self.fields.iter().filter(|(n, _)| *n == name);
        let Some((_, value)) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(ApiError::new(
                ServerCode::InvalidParameter,
                format!("`{name}` is given more than once"),
            ));
        }
        match value.parse::<T>() {
            Ok(v) if v >= min && v <= max => Ok(Some(v)),
            _ => Err(ApiError::new(
                ServerCode::InvalidParameter,
                format!("`{name}` must be an integer from {min} to {max}"),
            )),
        }
    }
}

/// When the request arrived (for latency; shared by the metrics and the log).
#[derive(Debug, Clone, Copy)]
pub struct Started(pub Instant);

/// What the request log reports about a request beyond its status: the
/// error code sent and the meter concerned. Kept in the request's local
/// cache; the first value set wins.
#[derive(Debug, Default)]
pub struct Trace {
    code: OnceLock<&'static str>,
    key_id: OnceLock<KeyId>,
}

impl Trace {
    /// Records the error code of the answer.
    pub fn set_code(&self, code: &'static str) {
        let _ = self.code.set(code);
    }

    /// Records the meter the request is about (for a batch, its first reading's).
    pub fn set_key_id(&self, key_id: KeyId) {
        let _ = self.key_id.set(key_id);
    }

    /// The error code, if the answer is an error.
    pub fn code(&self) -> Option<&'static str> {
        self.code.get().copied()
    }

    /// The meter, if known.
    pub fn key_id(&self) -> Option<&KeyId> {
        self.key_id.get()
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for &'r Trace {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Success(req.local_cache(Trace::default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_strict() {
        let q = Query::new(vec![
            ("limit", "5"),
            ("after", "x"),
            ("to", "1"),
            ("to", "1"),
        ]);
        assert_eq!(q.integer::<u32>("limit", 1, 10).ok(), Some(Some(5)));
        assert_eq!(
            q.integer::<u32>("limit", 6, 10).map_err(|e| e.code),
            Err("invalid_parameter")
        );
        assert_eq!(
            q.integer::<u64>("after", 0, u64::MAX).map_err(|e| e.code),
            Err("invalid_parameter")
        );
        assert_eq!(
            q.integer::<u64>("to", 0, u64::MAX).map_err(|e| e.code),
            Err("invalid_parameter")
        );
        assert_eq!(q.integer::<u64>("from", 0, u64::MAX).ok(), Some(None));
    }
}
