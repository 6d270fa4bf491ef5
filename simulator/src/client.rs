//! HTTP client of the reference server's API: registration on the operator
//! listener, readings on the public one.
//!
//! Every request holds one permit of a semaphore, so that no more than
//! `connections` requests (and connections) are open at once however many
//! meters there are.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use smartmeter_core::{KeyId, Reading};
use tokio::sync::Semaphore;

/// Why a request must be retried: nothing is known about the reading's fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transient {
    /// The connection failed or broke.
    Connection(String),
    /// No answer within the timeout.
    Timeout,
    /// A 5xx (or 429) answer, with its error code when it had one.
    Server(u16, String),
}

impl std::fmt::Display for Transient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connection(e) => write!(f, "connection error: {e}"),
            Self::Timeout => f.write_str("timeout"),
            Self::Server(s, c) => write!(f, "server error {s} {c}"),
        }
    }
}

/// The server's final answer about one reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Stored now (`false`) or already stored before (`true`, an exact re-send).
    Delivered {
        /// The server said `"duplicate": true`.
        duplicate: bool,
    },
    /// Refused for good, with the HTTP status and the error code.
    Rejected {
        /// HTTP status.
        status: u16,
        /// The stable error code.
        code: String,
    },
}

/// A request that failed without telling anything about readings.
#[derive(Debug, Clone)]
pub struct ClientError(pub String);

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClientError {}

/// The outcome of a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Registered now.
    Registered,
    /// This key or username was already registered (a reused keystore).
    AlreadyRegistered,
}

/// The client, shared by every meter task.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    server_url: String,
    operator_url: String,
    operator_token: String,
    permits: Arc<Semaphore>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

#[derive(Deserialize)]
struct AcceptedBody {
    duplicate: bool,
}

#[derive(Deserialize)]
struct BatchBody {
    results: Vec<BatchItem>,
}

#[derive(Deserialize)]
struct BatchItem {
    index: usize,
    status: String,
    #[serde(default)]
    error: Option<String>,
}

/// The parts of `GET /meters/<key_id>` the simulator uses.
#[derive(Deserialize)]
struct MeterDetail {
    readings_count: i64,
    latest: Option<LatestView>,
}

#[derive(Deserialize)]
struct LatestView {
    signed: WireReading,
}

/// The registers of a reading as the server returns it.
#[derive(Deserialize)]
struct WireReading {
    sequence: u64,
    timestamp_ms: u64,
    wh_imported: u64,
    wh_exported: u64,
}

fn transient(e: &reqwest::Error) -> Transient {
    if e.is_timeout() {
        Transient::Timeout
    } else {
        Transient::Connection(e.to_string())
    }
}

async fn error_code(resp: reqwest::Response) -> String {
    let status = resp.status().as_u16();
    match resp.json::<ErrorBody>().await {
        Ok(b) => b.error,
        Err(_) => format!("http_{status}"),
    }
}

fn is_retryable(status: u16) -> bool {
    status >= 500 || status == 429
}

impl Client {
    /// A client with at most `connections` concurrent requests, each
    /// limited to `timeout`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS setup).
    pub fn new(
        server_url: &str,
        operator_url: &str,
        operator_token: &str,
        connections: usize,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .timeout(timeout)
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ClientError(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            server_url: server_url.trim_end_matches('/').to_string(),
            operator_url: operator_url.trim_end_matches('/').to_string(),
            operator_token: operator_token.to_string(),
            permits: Arc::new(Semaphore::new(connections.max(1))),
        })
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ClientError> {
        self.permits
            .acquire()
            .await
            .map_err(|_| ClientError("the client is closed".into()))
    }

    /// `POST /register` on the operator listener.
    ///
    /// # Errors
    /// Any answer but 201 or a 409 for an already registered key or username.
    pub async fn register(
        &self,
        username: &str,
        public_key: &str,
    ) -> Result<Registration, ClientError> {
        let _permit = self.permit().await?;
        let body = serde_json::json!({"username": username, "public_key": public_key});
        let resp = self
            .http
            .post(format!("{}/register", self.operator_url))
            .bearer_auth(&self.operator_token)
            .json(&body)
            .send()
            .await
            .map_err(|e| ClientError(format!("register: {}", transient(&e))))?;
        let status = resp.status().as_u16();
        match status {
            201 => Ok(Registration::Registered),
            409 => {
                let code = error_code(resp).await;
                if code == "key_already_registered" || code == "username_taken" {
                    Ok(Registration::AlreadyRegistered)
                } else {
                    Err(ClientError(format!("register: 409 {code}")))
                }
            }
            _ => Err(ClientError(format!(
                "register: {status} {}",
                error_code(resp).await
            ))),
        }
    }

    /// `GET /meters/<key_id>` with the operator token.
    async fn meter(&self, key_id: &KeyId) -> Result<MeterDetail, ClientError> {
        let _permit = self.permit().await?;
        let resp = self
            .http
            .get(format!("{}/meters/{key_id}", self.operator_url))
            .bearer_auth(&self.operator_token)
            .send()
            .await
            .map_err(|e| ClientError(format!("meter: {}", transient(&e))))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(ClientError(format!(
                "meter: {status} {}",
                error_code(resp).await
            )));
        }
        resp.json()
            .await
            .map_err(|e| ClientError(format!("meter: {e}")))
    }

    /// The latest stored reading of a meter, to continue where an earlier
    /// run stopped.
    ///
    /// # Errors
    /// Any failure or answer but 200.
    pub async fn latest(&self, key_id: &KeyId) -> Result<Option<Reading>, ClientError> {
        Ok(self.meter(key_id).await?.latest.map(|l| Reading {
            sequence: l.signed.sequence,
            timestamp_ms: l.signed.timestamp_ms,
            wh_imported: l.signed.wh_imported,
            wh_exported: l.signed.wh_exported,
        }))
    }

    /// `POST /reportReading` with one signed reading in wire form.
    ///
    /// # Errors
    /// [`Transient`] when the reading's fate is unknown and it must be sent again.
    pub async fn report(&self, json: &str) -> Result<Answer, Transient> {
        let _permit = self
            .permit()
            .await
            .map_err(|e| Transient::Connection(e.0))?;
        let resp = self
            .http
            .post(format!("{}/reportReading", self.server_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(json.to_string())
            .send()
            .await
            .map_err(|e| transient(&e))?;
        let status = resp.status().as_u16();
        if is_retryable(status) {
            return Err(Transient::Server(status, error_code(resp).await));
        }
        if (200..300).contains(&status) {
            // An unreadable success is retried: a re-send is answered as a duplicate.
            let body: AcceptedBody = resp.json().await.map_err(|e| transient(&e))?;
            return Ok(Answer::Delivered {
                duplicate: body.duplicate,
            });
        }
        Ok(Answer::Rejected {
            status,
            code: error_code(resp).await,
        })
    }

    /// `POST /reportReadings` with signed readings in wire form, in order.
    /// Returns one answer per reading.
    ///
    /// # Errors
    /// [`Transient`] when nothing is known and the whole batch must be sent again.
    pub async fn report_batch(&self, jsons: &[Arc<str>]) -> Result<Vec<Answer>, Transient> {
        let _permit = self
            .permit()
            .await
            .map_err(|e| Transient::Connection(e.0))?;
        // The body is the server's batch envelope around readings that the
        // core serialised.
        let mut body = String::with_capacity(jsons.iter().map(|j| j.len() + 1).sum::<usize>() + 16);
        body.push_str("{\"readings\":[");
        for (i, j) in jsons.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(j);
        }
        body.push_str("]}");
        let resp = self
            .http
            .post(format!("{}/reportReadings", self.server_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transient(&e))?;
        let status = resp.status().as_u16();
        if is_retryable(status) {
            return Err(Transient::Server(status, error_code(resp).await));
        }
        if status != 200 {
            let code = error_code(resp).await;
            return Ok(jsons
                .iter()
                .map(|_| Answer::Rejected {
                    status,
                    code: code.clone(),
                })
                .collect());
        }
        let answer: BatchBody = resp.json().await.map_err(|e| transient(&e))?;
        let mut out = vec![None; jsons.len()];
        for item in answer.results {
            let a = match item.status.as_str() {
                "accepted" => Answer::Delivered { duplicate: false },
                "duplicate" => Answer::Delivered { duplicate: true },
                _ => Answer::Rejected {
                    status,
                    code: item.error.unwrap_or_else(|| "rejected".into()),
                },
            };
            if let Some(slot) = out.get_mut(item.index) {
                *slot = Some(a);
            }
        }
        // A reading without a result is unknown: retry the batch (re-sends
        // of the stored ones come back as duplicates).
        out.into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Transient::Server(status, "incomplete_batch_answer".into()))
    }

    /// Sends a raw body to `POST /reportReading` and returns the status and
    /// error code (or `"duplicate"`/`"accepted"`), for the attack checks.
    ///
    /// # Errors
    /// When no answer arrives.
    pub async fn report_raw(&self, body: String) -> Result<(u16, String), ClientError> {
        let _permit = self.permit().await?;
        let resp = self
            .http
            .post(format!("{}/reportReading", self.server_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError(format!("report: {}", transient(&e))))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            let dup = resp.json::<AcceptedBody>().await.is_ok_and(|b| b.duplicate);
            return Ok((status, if dup { "duplicate" } else { "accepted" }.into()));
        }
        Ok((status, error_code(resp).await))
    }

    /// The number of stored readings of a meter.
    ///
    /// # Errors
    /// Any failure or answer but 200.
    pub async fn readings_count(&self, key_id: &KeyId) -> Result<i64, ClientError> {
        Ok(self.meter(key_id).await?.readings_count)
    }
}
