//! HTTP client of the reference server's API: registration on the operator
//! listener, readings on the public one. Requests and answers are the
//! shared types of `smartmeter-api`; signed readings are serialised and
//! read back by the core.
//!
//! Every request holds one permit of a semaphore, so that no more than
//! `connections` requests (and connections) are open at once however many
//! meters there are.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use smartmeter_api::limits::MAX_PAGE_LEN;
use smartmeter_api::{
    Accepted, BatchAnswer, BatchOutcome, BatchRequest, ErrorBody, MeterDetail, ReadingPage,
    RegisterRequest, ServerCode,
};
use smartmeter_core::{KeyId, Reading, SignedReading};
use tokio::sync::Semaphore;

/// Why a request must be retried: nothing is known about the reading's fate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Transient {
    /// The connection failed or broke.
    #[error("connection error: {0}")]
    Connection(String),
    /// No answer within the timeout.
    #[error("timeout")]
    Timeout,
    /// A 5xx (or 429) answer, with its error code when it had one.
    #[error("server error {0} {1}")]
    Server(u16, String),
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
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(pub String);

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

fn transient(e: &reqwest::Error) -> Transient {
    if e.is_timeout() {
        Transient::Timeout
    } else {
        Transient::Connection(e.to_string())
    }
}

/// The code of an error answer, from its [`ErrorBody`]; `http_<status>`
/// when the body is not one (a proxy's page, a cut connection).
async fn error_code(resp: reqwest::Response) -> String {
    let status = resp.status().as_u16();
    match resp.json::<ErrorBody<'static>>().await {
        Ok(b) => b.error.into_owned(),
        Err(_) => format!("http_{status}"),
    }
}

fn is_retryable(status: u16) -> bool {
    status >= 500 || status == 429
}

/// A request body in JSON. Serialising the API's types cannot fail; if it
/// ever did, the reading stays in the backlog and is reported undelivered.
fn json_body<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Transient> {
    serde_json::to_vec(value)
        .map_err(|e| Transient::Connection(format!("cannot serialise the request: {e}")))
}

/// The answer to one reading sent to `POST /reportReading`, with its status.
async fn reading_answer(resp: reqwest::Response) -> Result<(u16, Answer), Transient> {
    let status = resp.status().as_u16();
    if is_retryable(status) {
        return Err(Transient::Server(status, error_code(resp).await));
    }
    if resp.status().is_success() {
        // An unreadable success is retried: a re-send is answered as a duplicate.
        let body: Accepted = resp.json().await.map_err(|e| transient(&e))?;
        let duplicate = body.duplicate;
        return Ok((status, Answer::Delivered { duplicate }));
    }
    let code = error_code(resp).await;
    Ok((status, Answer::Rejected { status, code }))
}

/// The answer for one reading of a batch.
fn batch_answer(status: u16, outcome: BatchOutcome) -> Answer {
    match outcome {
        BatchOutcome::Accepted { .. } => Answer::Delivered { duplicate: false },
        BatchOutcome::Duplicate { .. } => Answer::Delivered { duplicate: true },
        BatchOutcome::Rejected { error, .. } => Answer::Rejected {
            status,
            code: error.into_owned(),
        },
    }
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
        let body = RegisterRequest {
            username: username.into(),
            public_key: public_key.into(),
        };
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
                let taken = [ServerCode::KeyAlreadyRegistered, ServerCode::UsernameTaken];
                if taken.iter().any(|c| c.as_str() == code) {
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

    /// A GET on the operator listener with the operator token, answered 200.
    async fn get_operator<T: DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> Result<T, ClientError> {
        let _permit = self.permit().await?;
        let resp = self
            .http
            .get(url)
            .bearer_auth(&self.operator_token)
            .send()
            .await
            .map_err(|e| ClientError(format!("{what}: {}", transient(&e))))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(ClientError(format!(
                "{what}: {status} {}",
                error_code(resp).await
            )));
        }
        resp.json()
            .await
            .map_err(|e| ClientError(format!("{what}: {e}")))
    }

    /// `GET /meters/<key_id>` with the operator token.
    async fn meter(&self, key_id: &KeyId) -> Result<MeterDetail, ClientError> {
        let url = format!("{}/meters/{key_id}", self.operator_url);
        self.get_operator(&url, "meter").await
    }

    /// The latest stored reading of a meter, to continue where an earlier
    /// run stopped. The server's answer is read with the core's rules.
    ///
    /// # Errors
    /// Any failure or answer but 200.
    pub async fn latest(&self, key_id: &KeyId) -> Result<Option<Reading>, ClientError> {
        Ok(self
            .meter(key_id)
            .await?
            .latest
            .map(|l| *l.signed.reading()))
    }

    /// Sends a JSON body to a readings route of the public listener; the
    /// permit is held until the caller has read the answer.
    async fn post_reading(
        &self,
        route: &str,
        body: Vec<u8>,
    ) -> Result<(tokio::sync::SemaphorePermit<'_>, reqwest::Response), Transient> {
        let permit = self
            .permit()
            .await
            .map_err(|e| Transient::Connection(e.0))?;
        let resp = self
            .http
            .post(format!("{}{route}", self.server_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transient(&e))?;
        Ok((permit, resp))
    }

    /// `POST /reportReading` with one signed reading.
    ///
    /// # Errors
    /// [`Transient`] when the reading's fate is unknown and it must be sent again.
    pub async fn report(&self, signed: &SignedReading) -> Result<Answer, Transient> {
        let (_permit, resp) = self
            .post_reading("/reportReading", json_body(signed)?)
            .await?;
        Ok(reading_answer(resp).await?.1)
    }

    /// `POST /reportReadings` with signed readings, in order (at most
    /// [`MAX_BATCH_LEN`](smartmeter_api::limits::MAX_BATCH_LEN)). Returns one
    /// answer per reading.
    ///
    /// # Errors
    /// [`Transient`] when nothing is known and the whole batch must be sent again.
    pub async fn report_batch(&self, readings: &[SignedReading]) -> Result<Vec<Answer>, Transient> {
        let body = json_body(&BatchRequest {
            readings: readings.iter().collect(),
        })?;
        let (_permit, resp) = self.post_reading("/reportReadings", body).await?;
        let status = resp.status().as_u16();
        if is_retryable(status) {
            return Err(Transient::Server(status, error_code(resp).await));
        }
        if status != 200 {
            let code = error_code(resp).await;
            return Ok(readings
                .iter()
                .map(|_| Answer::Rejected {
                    status,
                    code: code.clone(),
                })
                .collect());
        }
        let answer: BatchAnswer = resp.json().await.map_err(|e| transient(&e))?;
        let mut out = vec![None; readings.len()];
        for result in answer.results {
            if let Some(slot) = out.get_mut(result.index) {
                *slot = Some(batch_answer(status, result.outcome));
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
        let sent = match self.post_reading("/reportReading", body.into_bytes()).await {
            Ok((_permit, resp)) => reading_answer(resp).await,
            Err(e) => Err(e),
        };
        match sent {
            Ok((status, Answer::Delivered { duplicate })) => {
                let label = if duplicate { "duplicate" } else { "accepted" };
                Ok((status, label.into()))
            }
            Ok((status, Answer::Rejected { code, .. })) | Err(Transient::Server(status, code)) => {
                Ok((status, code))
            }
            Err(e) => Err(ClientError(format!("report: {e}"))),
        }
    }

    /// The number of stored readings of a meter.
    ///
    /// # Errors
    /// Any failure or answer but 200.
    pub async fn readings_count(&self, key_id: &KeyId) -> Result<i64, ClientError> {
        Ok(self.meter(key_id).await?.meter.readings_count)
    }

    /// Every stored reading of a meter, in sequence order, page by page
    /// (`GET /meters/<key_id>/readings` with the operator token), read with
    /// the core's rules: for checking what the server holds.
    ///
    /// # Errors
    /// Any failure or answer but 200.
    pub async fn stored_readings(&self, key_id: &KeyId) -> Result<Vec<SignedReading>, ClientError> {
        let mut out = Vec::new();
        let mut after: Option<u64> = None;
        loop {
            let mut url = format!(
                "{}/meters/{key_id}/readings?limit={MAX_PAGE_LEN}",
                self.operator_url
            );
            if let Some(a) = after {
                url.push_str(&format!("&after={a}"));
            }
            let page: ReadingPage = self.get_operator(&url, "readings").await?;
            out.extend(page.readings.into_iter().map(|r| r.signed));
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(out),
            }
        }
    }
}
