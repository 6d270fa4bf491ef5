//! Group commit: concurrent report requests are merged into one transaction.
//!
//! Each request hands its verified readings to a queue and waits. A few
//! workers each take whatever has queued up (up to `--commit-group-max`
//! readings), store it in one transaction, commit, and only then answer
//! every waiting request. So under load many readings share one commit (one
//! WAL flush), and a 2xx still means "committed".
//!
//! The committer knows the database layer and nothing of HTTP: it answers
//! with [`Outcome`]s or a [`CommitError`], which the routes map to answers.

use std::sync::Arc;
use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::tokio::sync::{Mutex, mpsc, oneshot};

use crate::db::{self, DbError, NewReading, Outcome, PgPool};
use crate::metrics::{Metrics, PoolName};

/// Requests that may wait in the queue before new ones wait to enqueue.
const QUEUE_LEN: usize = 4096;

/// Why readings handed to the committer were not committed. Nothing of
/// them is stored.
#[derive(Debug, Clone)]
pub enum CommitError {
    /// The database failed; the transaction was rolled back. Shared by every
    /// request of the group.
    Database(Arc<DbError>),
    /// The commit workers have stopped (the process is shutting down).
    Stopped,
}

impl std::fmt::Display for CommitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Database(e) => write!(f, "{e}"),
            Self::Stopped => f.write_str("the commit workers have stopped"),
        }
    }
}

impl std::error::Error for CommitError {}

struct Pending {
    items: Vec<NewReading>,
    reply: oneshot::Sender<Result<Vec<Outcome>, CommitError>>,
}

/// The handle the report routes use (managed state of the public listener).
pub struct Committer {
    queue: mpsc::Sender<Pending>,
    metrics: Arc<Metrics>,
}

impl Committer {
    /// Stores the readings (in order, in one transaction with whatever else
    /// is waiting) and returns one outcome per reading once committed.
    ///
    /// # Errors
    /// [`CommitError`]: nothing of these readings was committed.
    pub async fn store(&self, items: Vec<NewReading>) -> Result<Vec<Outcome>, CommitError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        let n = items.len();
        self.metrics.queued(n, true);
        if self.queue.send(Pending { items, reply }).await.is_err() {
            self.metrics.queued(n, false);
            return Err(CommitError::Stopped);
        }
        answer.await.map_err(|_| CommitError::Stopped)?
    }
}

/// Starts commit workers with a pool of `pool_size` connections at ignite
/// and manages the [`Committer`].
pub fn fairing(pool_size: usize, group_max: usize, metrics: Arc<Metrics>) -> AdHoc {
    AdHoc::try_on_ignite("group commit", move |rocket| async move {
        // A pool of its own, configured like `Db` but not closed by Rocket's
        // shutdown fairing, which runs as soon as shutdown is requested: the
        // workers must be able to commit what in-flight requests hand them
        // during the grace period.
        let config: rocket_db_pools::Config =
            match rocket.figment().focus("databases.smartmeter").extract() {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "no database configuration for the commit pool");
                    return Err(rocket);
                }
            };
        let pool = match PgPool::new(
            &config.url,
            pool_size,
            Duration::from_secs(config.connect_timeout),
        ) {
            Ok(pool) => Arc::new(pool),
            Err(e) => {
                tracing::error!(error = %e, "cannot create the commit pool");
                return Err(rocket);
            }
        };
        pool.observe_wait(metrics.pool_wait(PoolName::commit));
        let (queue, rx) = mpsc::channel(QUEUE_LEN);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..pool_size.max(1) {
            rocket::tokio::spawn(worker(
                Arc::clone(&rx),
                Arc::clone(&pool),
                group_max.max(1),
                Arc::clone(&metrics),
            ));
        }
        Ok(rocket.manage(Committer { queue, metrics }))
    })
}

async fn worker(
    rx: Arc<Mutex<mpsc::Receiver<Pending>>>,
    pool: Arc<PgPool>,
    group_max: usize,
    metrics: Arc<Metrics>,
) {
    loop {
        let group = {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut n = first.items.len();
            let mut group = vec![first];
            while n < group_max {
                match rx.try_recv() {
                    Ok(p) => {
                        n += p.items.len();
                        group.push(p);
                    }
                    Err(_) => break,
                }
            }
            metrics.queued(n, false);
            metrics.commit_group(n);
            group
        };
        commit_group(&pool, group).await;
    }
}

async fn commit_group(pool: &PgPool, group: Vec<Pending>) {
    // Borrowed, not copied: the readings stay with their requests.
    let items: Vec<&NewReading> = group.iter().flat_map(|p| p.items.iter()).collect();
    let result = match pool.get().await {
        Ok(mut client) => db::store(&mut client, &items).await,
        Err(e) => Err(e),
    };
    drop(items);
    match result {
        Ok(outcomes) => {
            let mut rest = outcomes.into_iter();
            for p in group {
                let mine: Vec<Outcome> = rest.by_ref().take(p.items.len()).collect();
                let _ = p.reply.send(Ok(mine));
            }
        }
        Err(e) => {
            let e = Arc::new(e);
            for p in group {
                let _ = p.reply.send(Err(CommitError::Database(Arc::clone(&e))));
            }
        }
    }
}
