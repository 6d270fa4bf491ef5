//! # smartmeter-test-support
//!
//! The harness that the server's and the simulator's tests share, written
//! once: a PostgreSQL database per test and the URLs that reach it
//! ([`db`]), the fixed keys and vectors ([`fixtures`]), and the server as
//! a real process on free ports ([`process`]).
//!
//! A dev-dependency only (`publish = false`). Its functions panic on
//! failure: a harness that cannot set up fails the test that asked.

#![forbid(unsafe_code)]
#![allow(
    clippy::panic,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test harness fails the test that uses it, with the cause"
)]

pub mod db;
pub mod fixtures;
pub mod process;

/// The operator token of every test server.
pub const OPERATOR_TOKEN: &str = "test-operator-token";

/// The read-only token of the test servers that have one.
pub const READ_TOKEN: &str = "test-read-token";
