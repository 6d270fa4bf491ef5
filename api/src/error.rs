//! The body of every error answer.

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
