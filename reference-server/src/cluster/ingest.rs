//! The ingest side: publish verified readings to their partitions and wait
//! for the store workers' verdicts.
//!
//! Each reading is published with `Nats-Msg-Id: <key_id>:<sequence>`, the
//! subject its verdict goes to (this node's inbox) and a request id. Once
//! JetStream acknowledges it (the replicated stream holds it), the node
//! waits for the verdict, which the store worker sends after its commit.
//!
//! A re-send within the stream's de-duplication window is acknowledged as
//! a duplicate and reaches no worker, so no verdict comes for it: the node
//! then judges it against what its shard has stored at that sequence (an
//! exact re-send is a duplicate, anything else a conflict), waiting a
//! moment for the first copy's commit.
//!
//! No acknowledgement in time (no quorum, no NATS server), or no verdict
//! in time: [`ClusterError::Unavailable`], answered 503 and never a 2xx.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::Client;
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use rocket::futures::StreamExt;
use rocket::futures::future::join_all;
use rocket::tokio::sync::oneshot;
use smartmeter_core::policy::{Around, Verdict as PolicyVerdict};

use super::wire::{self, REPLY_HEADER, REQUEST_HEADER, Verdict, WireOutcome};
use super::{ClusterError, Node};
use crate::committer::NewReading;
use crate::db::{self, ReadingQuery};
use crate::judge::Outcome;

/// How often a duplicate's first copy is looked for in its shard.
const DUPLICATE_POLL: Duration = Duration::from_millis(100);

type Waiters = Mutex<HashMap<u64, oneshot::Sender<WireOutcome>>>;

/// The ingest side of a node.
pub struct Ingest {
    inbox: String,
    next: AtomicU64,
    waiting: std::sync::Arc<Waiters>,
}

fn forget(waiting: &Waiters, reqs: &[u64]) {
    if let Ok(mut w) = waiting.lock() {
        for r in reqs {
            w.remove(r);
        }
    }
}

/// The requests one [`Ingest::store`] call waits for: forgotten when the
/// call ends in any way, including when its future is dropped (the client
/// went away, or the server shuts down), so that `waiting` never keeps
/// entries nobody waits for.
struct Pending<'a> {
    waiting: &'a Waiters,
    reqs: Vec<u64>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        forget(self.waiting, &self.reqs);
    }
}

fn unavailable(why: impl Into<String>) -> ClusterError {
    ClusterError::Unavailable(why.into())
}

impl Ingest {
    /// Subscribes to this node's verdict inbox and starts handing verdicts
    /// to the requests that wait for them.
    ///
    /// # Errors
    /// A message when the subscription fails.
    pub async fn start(client: &Client) -> Result<Self, String> {
        let inbox = client.new_inbox();
        let mut sub = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| format!("cannot subscribe to the verdict inbox: {e}"))?;
        let waiting: std::sync::Arc<Waiters> = std::sync::Arc::default();
        let w = std::sync::Arc::clone(&waiting);
        rocket::tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let Ok(verdicts) = serde_json::from_slice::<Vec<Verdict>>(&msg.payload) else {
                    tracing::warn!("a verdict message that does not parse");
                    continue;
                };
                if let Ok(mut w) = w.lock() {
                    for v in verdicts {
                        // A second verdict for one request (a redelivery)
                        // finds nobody waiting: the first one was answered.
                        if let Some(tx) = w.remove(&v.req) {
                            let _ = tx.send(v.outcome);
                        }
                    }
                }
            }
        });
        Ok(Self {
            inbox,
            next: AtomicU64::new(1),
            waiting,
        })
    }

    fn forget(&self, reqs: &[u64]) {
        forget(&self.waiting, reqs);
    }

    /// Publishes the readings and returns one outcome per reading, in
    /// order, once each is judged and (when accepted) committed.
    ///
    /// # Errors
    /// [`ClusterError::Unavailable`]: nothing promised; some of the
    /// readings may still be stored later, and a re-send is then a
    /// duplicate.
    pub async fn store(
        &self,
        node: &Node,
        items: Vec<NewReading>,
    ) -> Result<Vec<Outcome>, ClusterError> {
        let mut pending = Pending {
            waiting: &self.waiting,
            reqs: Vec::with_capacity(items.len()),
        };
        let mut receivers = Vec::with_capacity(items.len());
        let mut acks: Vec<PublishAckFuture> = Vec::with_capacity(items.len());
        let mut failed: Option<ClusterError> = None;
        for item in &items {
            let req = self.next.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            if let Ok(mut w) = self.waiting.lock() {
                w.insert(req, tx);
            }
            pending.reqs.push(req);
            receivers.push(rx);
            let key_id = item.reading.key_id();
            let sequence = item.reading.reading().sequence;
            let message = PublishMessage::build()
                .payload(Bytes::from(item.reading.signed().to_json()))
                .message_id(wire::message_id(&key_id, sequence))
                .header(REPLY_HEADER, self.inbox.as_str())
                .header(REQUEST_HEADER, req.to_string().as_str());
            match node
                .js
                .send_publish(wire::subject(node.partition(&key_id)), message)
                .await
            {
                Ok(ack) => acks.push(ack),
                Err(e) => {
                    failed = Some(unavailable(format!("cannot publish a reading: {e}")));
                    break;
                }
            }
        }
        let acked = join_all(acks.into_iter().map(|a| a.into_future())).await;
        if let Some(e) = failed {
            return Err(e);
        }
        let mut duplicates = Vec::new();
        for (i, ack) in acked.into_iter().enumerate() {
            match ack {
                Ok(ack) if ack.duplicate => duplicates.push(i),
                Ok(_) => {}
                Err(e) => {
                    return Err(unavailable(format!(
                        "the stream did not take a reading (no quorum?): {e}"
                    )));
                }
            }
        }
        let deadline = Instant::now() + node.config.verdict_timeout();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; items.len()];
        for &i in &duplicates {
            if let Some(req) = pending.reqs.get(i) {
                self.forget(&[*req]);
            }
            let (Some(item), Some(slot)) = (items.get(i), outcomes.get_mut(i)) else {
                continue;
            };
            match resend(node, item, deadline).await {
                Ok(o) => *slot = Some(o),
                Err(e) => {
                    return Err(e);
                }
            }
        }
        for (i, rx) in receivers.into_iter().enumerate() {
            let Some(slot) = outcomes.get_mut(i) else {
                continue;
            };
            if slot.is_some() {
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match rocket::tokio::time::timeout(left, rx).await {
                Ok(Ok(o)) => *slot = Some(o.into()),
                _ => {
                    return Err(unavailable(
                        "no store worker judged the reading in time; it may still be stored: send it again",
                    ));
                }
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::Contended))
            .collect())
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The outcome of a re-send that the stream de-duplicated: judged with the
/// core's rule against the reading its shard stores at that sequence, once
/// the first copy is committed.
async fn resend(
    node: &Node,
    item: &NewReading,
    deadline: Instant,
) -> Result<Outcome, ClusterError> {
    let key_id = item.reading.key_id();
    let sequence = item.reading.reading().sequence;
    loop {
        let client = node
            .shard_client(&key_id)
            .await
            .map_err(|e| unavailable(format!("shard: {e}")))?;
        let row = db::meter_by_key(&client, &key_id)
            .await
            .map_err(|e| unavailable(format!("shard: {e}")))?;
        let Some(row) = row else {
            return Ok(Outcome::UnknownMeter);
        };
        let q = ReadingQuery {
            from: None,
            to: None,
            after: sequence.checked_sub(1),
            limit: 1,
        };
        let page = db::readings(&client, &row, q)
            .await
            .map_err(|e| unavailable(format!("shard: {e}")))?;
        let stored = page
            .items
            .first()
            .map(|r| *r.signed.reading())
            .filter(|r| r.sequence == sequence);
        if let Some(at) = stored {
            let around = Around {
                at: Some(at),
                before: None,
                after: None,
            };
            return Ok(
                match node.policy.judge_late(&around, &item.reading, now_ms()) {
                    PolicyVerdict::Duplicate => Outcome::Duplicate,
                    other => other.into(),
                },
            );
        }
        if Instant::now() + DUPLICATE_POLL >= deadline {
            return Err(unavailable(
                "the stream holds a copy of this reading that is not stored (yet, or it was refused); send it again later",
            ));
        }
        rocket::tokio::time::sleep(DUPLICATE_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_store_call_forgets_its_requests() {
        let waiting = Waiters::default();
        let (tx, _rx) = oneshot::channel();
        let (other, _other_rx) = oneshot::channel();
        if let Ok(mut w) = waiting.lock() {
            w.insert(1, tx);
            w.insert(2, other);
        }
        {
            let _pending = Pending {
                waiting: &waiting,
                reqs: vec![1],
            };
            assert_eq!(waiting.lock().map(|w| w.len()).ok(), Some(2));
        }
        // Only the dropped call's request is gone.
        let left: Option<Vec<u64>> = waiting.lock().ok().map(|w| w.keys().copied().collect());
        assert_eq!(left, Some(vec![2]));
    }
}
