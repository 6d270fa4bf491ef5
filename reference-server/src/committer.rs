//! Group commit: concurrent report requests are merged into one transaction.
//!
//! Each request hands its verified readings to a queue and waits. A few
//! workers each take whatever has queued up (up to `--commit-group-max` readings),
//! store it in one transaction with pipelined statements, commit, and only
//! then answer every waiting request. So under load many readings share one
//! commit (one WAL flush), and a 2xx still means "committed".

use std::sync::Arc;

use rocket::fairing::AdHoc;
use rocket::tokio::sync::{Mutex, mpsc, oneshot};

use crate::db::{self, NewReading, Outcome, Pool};
use crate::error::ApiError;

/// Requests that may wait in the queue before new ones wait to enqueue.
const QUEUE_LEN: usize = 4096;

struct Pending {
    items: Vec<NewReading>,
    reply: oneshot::Sender<Result<Vec<Outcome>, ApiError>>,
}

/// The handle the report routes use (managed state of the public listener).
pub struct Committer {
    queue: mpsc::Sender<Pending>,
}

impl Committer {
    /// Stores the readings (in order, in one transaction with whatever else
    /// is waiting) and returns one outcome per reading once committed.
    ///
    /// # Errors
    /// 503 when the database failed: nothing of these readings was committed.
    pub async fn store(&self, items: Vec<NewReading>) -> Result<Vec<Outcome>, ApiError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { items, reply })
            .await
            .map_err(|_| ApiError::internal(&"the commit workers have stopped"))?;
        answer
            .await
            .map_err(|_| ApiError::internal(&"a commit worker dropped a request"))?
    }
}

/// Starts commit workers with a pool of `pool_size` connections at ignite
/// and manages the [`Committer`].
pub fn fairing(pool_size: usize, group_max: usize) -> AdHoc {
    AdHoc::try_on_ignite("group commit", move |rocket| async move {
        // A pool of its own, configured like `Db` but not closed by Rocket's
        // shutdown fairing, which runs as soon as shutdown is requested: the
        // workers must be able to commit what in-flight requests hand them
        // during the grace period.
        let figment = rocket.figment().focus("databases.smartmeter");
        let pool: Pool = match <Pool as rocket_db_pools::Pool>::init(&figment).await {
            Ok(pool) => pool,
            Err(e) => {
                tracing::error!(error = %e, "cannot create the commit pool");
                return Err(rocket);
            }
        };
        let (queue, rx) = mpsc::channel(QUEUE_LEN);
        let rx = Arc::new(Mutex::new(rx));
        let workers = pool_size.max(1);
        for _ in 0..workers {
            rocket::tokio::spawn(worker(Arc::clone(&rx), pool.clone(), group_max.max(1)));
        }
        Ok(rocket.manage(Committer { queue }))
    })
}

async fn worker(rx: Arc<Mutex<mpsc::Receiver<Pending>>>, pool: Pool, group_max: usize) {
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
            group
        };
        commit_group(&pool, group).await;
    }
}

async fn commit_group(pool: &Pool, group: Vec<Pending>) {
    let items: Vec<NewReading> = group.iter().flat_map(|p| p.items.clone()).collect();
    let result = match pool.get().await {
        Ok(mut client) => db::store(&mut client, &items)
            .await
            .map_err(|e| ApiError::database(&e)),
        Err(e) => Err(ApiError::database(&e)),
    };
    match result {
        Ok(outcomes) => {
            let mut rest = outcomes.into_iter();
            for p in group {
                let mine: Vec<Outcome> = rest.by_ref().take(p.items.len()).collect();
                let _ = p.reply.send(Ok(mine));
            }
        }
        Err(e) => {
            for p in group {
                let _ = p.reply.send(Err(e.clone()));
            }
        }
    }
}
