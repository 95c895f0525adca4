//! The user row behind every authenticated request, read in batches.
//!
//! Every request and every WebSocket handshake reads its caller's row, fresh,
//! so a disabled account or a changed role counts at once on every instance.
//! Under a burst (a thousand browsers reconnecting after a deploy) those reads
//! would each be a database round trip; here one task takes every lookup
//! waiting and answers them all with one `WHERE id IN (…)` query. A lone
//! lookup is read at once, and no row is ever kept: freshness is unchanged.

use std::{collections::HashMap, panic::AssertUnwindSafe};

use futures_util::FutureExt;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QuerySelect};
use tokio::sync::{mpsc, oneshot};

use crate::{
    entity::user,
    error::{AppError, Result},
};

/// Lookups answered by one query, at most.
const MAX_BATCH: usize = 256;

/// What authentication needs of a user row (not its password hash).
#[derive(Debug, Clone, FromQueryResult)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub is_active: bool,
}

type Lookup = (i64, oneshot::Sender<Result<Option<Account>>>);

/// Cheap to clone; the reading task ends when the last handle is dropped.
#[derive(Clone)]
pub struct UserLookup {
    requests: mpsc::Sender<Lookup>,
}

impl UserLookup {
    /// Starts the reading task on `db` (the read connections).
    pub fn start(db: DatabaseConnection) -> Self {
        let (requests, queue) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(answer_lookups(db, queue));
        UserLookup { requests }
    }

    /// The user with this id as the database has it now, or `None`.
    pub async fn find(&self, id: i64) -> Result<Option<Account>> {
        let (answer, answered) = oneshot::channel();
        let gone = || AppError::Internal("the user lookup stopped".into());
        self.requests.send((id, answer)).await.map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}

async fn answer_lookups(db: DatabaseConnection, mut queue: mpsc::Receiver<Lookup>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let ids: Vec<i64> = batch.iter().map(|(id, _)| *id).collect();
        // A panic must not end authentication for everyone after it: this
        // batch's callers see their answer dropped (500), the next batch goes on.
        let found = AssertUnwindSafe(read_accounts(&db, ids)).catch_unwind().await;
        let Ok(found) = found else {
            tracing::error!(lookups = batch.len(), "a user lookup panicked; its callers get an error");
            batch.clear();
            continue;
        };
        match found {
            Ok(accounts) => {
                for (id, answer) in batch.drain(..) {
                    let _ = answer.send(Ok(accounts.get(&id).cloned()));
                }
            }
            // Each caller gets the error its own query would have given it (503
            // while the database is unreachable, else 500); whoever queued during
            // an outage gets the 503 now rather than wait out the same timeout.
            Err(error) => {
                let outage = matches!(error, AppError::Unavailable(_));
                for (_, answer) in batch.drain(..) {
                    let _ = answer.send(Err(error.copied()));
                }
                while outage && let Ok((_, answer)) = queue.try_recv() {
                    let _ = answer.send(Err(error.copied()));
                }
            }
        }
    }
}

/// The accounts with these ids, by id (one query).
async fn read_accounts(db: &DatabaseConnection, mut ids: Vec<i64>) -> Result<HashMap<i64, Account>> {
    ids.sort_unstable();
    ids.dedup();
    let query = user::Entity::find()
        .select_only()
        .columns([user::Column::Id, user::Column::Username, user::Column::Role, user::Column::IsActive])
        .filter(user::Column::Id.is_in(ids));
    Ok(query.into_model::<Account>().all(db).await?.into_iter().map(|u| (u.id, u)).collect())
}
