//! # smartmeter-api
//!
//! The HTTP types of the SmartMeters reference server's API
//! (`docs/api.md`), declared once: the server serialises them, clients
//! such as the simulator deserialise them, and both take the API's limits
//! from [`limits`]. A client still speaks only HTTP to the server; this
//! crate is the vocabulary, not a client.
//!
//! Signed readings inside these types are [`SignedReading`]s, read and
//! written by the core's serde impls with the core's rules.
//!
//! ```
//! use smartmeter_api::{BatchAnswer, BatchOutcome};
//!
//! let body = r#"{"accepted":1,"duplicates":0,"rejected":1,"results":[
//!   {"index":0,"status":"accepted","sequence":7,"gap":0,"late":false},
//!   {"index":1,"status":"rejected","error":"malformed_json","message":"..."}]}"#;
//! let answer: BatchAnswer = serde_json::from_str(body)?;
//! assert_eq!(answer.results[0].outcome, BatchOutcome::Accepted { sequence: 7, gap: 0, late: false });
//! assert!(matches!(&answer.results[1].outcome,
//!     BatchOutcome::Rejected { sequence: None, error, .. } if error == "malformed_json"));
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! [`SignedReading`]: smartmeter_core::SignedReading

#![forbid(unsafe_code)]

mod error;
pub mod limits;
mod meters;
mod readings;

pub use error::{ErrorBody, ServerCode};
pub use meters::{MeterDetail, MeterPage, MeterView, ReadingPage, ReadingView, RegisterRequest};
pub use readings::{Accepted, BatchAnswer, BatchOutcome, BatchRequest, BatchResult};
