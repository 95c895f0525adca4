//! The user row behind every authenticated request, read in batches.
//!
//! Every request and every WebSocket handshake reads its caller's row, fresh,
//! so a disabled account or a changed role counts at once on every instance.
//! Under a burst (a thousand browsers reconnecting after a deploy) those reads
//! would each be a database round trip; here one task takes every lookup
//! waiting and answers them all with one `WHERE id IN (…)` query. A lone
//! lookup is read at once.
//!
//! On SQLite — one instance, by design — the rows read are also kept for a
//! moment ([`RecentAccounts`]): a browser's page load, its API calls and its
//! WebSocket then cost one read, not five. Every change to an account goes
//! through this process, which forgets the row before it answers the change
//! (and again when the hub obeys the change's session revocation), so a
//! disabled account or a changed role still counts for every request that
//! starts after the change. On PostgreSQL other instances may change an
//! account (with or without Redis between them), so nothing is kept there.

use std::{
    collections::HashMap,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

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
    /// Only where every change to an account is made by this process.
    recent: Option<Arc<RecentAccounts>>,
}

impl UserLookup {
    /// Starts the reading task on `db` (the read connections). `keep_for`
    /// keeps rows read for that long; `None` reads every lookup fresh.
    pub fn start(db: DatabaseConnection, keep_for: Option<Duration>) -> Self {
        let (requests, queue) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(answer_lookups(db, queue));
        let recent = keep_for.filter(|ttl| !ttl.is_zero()).map(|ttl| Arc::new(RecentAccounts::new(ttl)));
        UserLookup { requests, recent }
    }

    /// The user with this id as the database has it now (or as this process
    /// last changed it), or `None`.
    pub async fn find(&self, id: i64) -> Result<Option<Account>> {
        match &self.recent {
            Some(recent) => recent.find_or_read(id, self.read(id)).await,
            None => self.read(id).await,
        }
    }

    /// Drops what is kept of this account: called once a change to it has
    /// committed, before the change is answered.
    pub fn forget(&self, id: i64) {
        if let Some(recent) = &self.recent {
            recent.forget(id);
        }
    }

    /// Forgets the account when dropped: a change's handler holds it, so the
    /// row is forgotten even if the request is dropped after the commit.
    pub fn forget_when_done(&self, id: i64) -> ForgetWhenDone<'_> {
        ForgetWhenDone { lookup: self, id }
    }

    async fn read(&self, id: i64) -> Result<Option<Account>> {
        let (answer, answered) = oneshot::channel();
        let gone = || AppError::Internal("the user lookup stopped".into());
        self.requests.send((id, answer)).await.map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }
}

/// See [`UserLookup::forget_when_done`].
pub struct ForgetWhenDone<'a> {
    lookup: &'a UserLookup,
    id: i64,
}

impl Drop for ForgetWhenDone<'_> {
    fn drop(&mut self) {
        self.lookup.forget(self.id);
    }
}

/// Accounts kept after a read, for a short while.
struct RecentAccounts {
    ttl: Duration,
    kept: Mutex<Kept>,
}

struct Kept {
    /// Raised by every `forget`: a read that began before a forget may have
    /// seen the row before the change, so it is not kept.
    generation: u64,
    /// Each row with when its read began (its age counts from then).
    rows: HashMap<i64, (Account, Instant)>,
    /// When expired rows were last dropped: a full table is swept at most once a TTL.
    swept_at: Instant,
}

/// Accounts kept at most; past it, expired ones are dropped and, if none
/// expired, nothing more is kept until some do.
const MAX_KEPT: usize = 10_000;

impl RecentAccounts {
    fn new(ttl: Duration) -> Self {
        let kept = Kept { generation: 0, rows: HashMap::new(), swept_at: Instant::now() };
        RecentAccounts { ttl, kept: Mutex::new(kept) }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The kept row, or what `read` finds (kept, unless an account changed while it ran).
    async fn find_or_read(
        &self,
        id: i64,
        read: impl Future<Output = Result<Option<Account>>>,
    ) -> Result<Option<Account>> {
        let started = Instant::now();
        if let Some(account) = self.get(id, started) {
            return Ok(Some(account));
        }
        // Taken before the read: a change committed while it runs raises it.
        let generation = self.generation();
        let found = read.await?;
        if let Some(account) = &found {
            self.keep(account.clone(), generation, started);
        }
        Ok(found)
    }

    fn get(&self, id: i64, now: Instant) -> Option<Account> {
        let kept = self.kept();
        let (account, read_at) = kept.rows.get(&id)?;
        (now.saturating_duration_since(*read_at) < self.ttl).then(|| account.clone())
    }

    fn generation(&self) -> u64 {
        self.kept().generation
    }

    /// Keeps a row whose read began at `read_at`, after `generation` was taken,
    /// unless an account changed meanwhile.
    fn keep(&self, account: Account, generation: u64, read_at: Instant) {
        let mut kept = self.kept();
        if kept.generation != generation {
            return;
        }
        if kept.rows.len() >= MAX_KEPT {
            if read_at.saturating_duration_since(kept.swept_at) < self.ttl {
                return;
            }
            let ttl = self.ttl;
            kept.rows.retain(|_, (_, at)| read_at.saturating_duration_since(*at) < ttl);
            kept.swept_at = read_at;
            if kept.rows.len() >= MAX_KEPT {
                return;
            }
        }
        kept.rows.insert(account.id, (account, read_at));
    }

    fn forget(&self, id: i64) {
        let mut kept = self.kept();
        kept.generation += 1;
        kept.rows.remove(&id);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: i64, active: bool) -> Account {
        Account { id, username: format!("user{id}"), role: "ADMIN".into(), is_active: active }
    }

    #[test]
    fn a_kept_account_expires_after_its_time() {
        let recent = RecentAccounts::new(Duration::from_secs(1));
        let now = Instant::now();
        recent.keep(account(1, true), recent.generation(), now);
        assert!(recent.get(1, now + Duration::from_millis(999)).is_some());
        assert!(recent.get(1, now + Duration::from_secs(1)).is_none());
        assert!(recent.get(2, now).is_none());
    }

    #[test]
    fn a_forgotten_account_is_read_again() {
        let recent = RecentAccounts::new(Duration::from_secs(60));
        let now = Instant::now();
        recent.keep(account(1, true), recent.generation(), now);
        recent.forget(1);
        assert!(recent.get(1, now).is_none());
    }

    #[test]
    fn a_read_that_began_before_a_change_is_not_kept() {
        let recent = RecentAccounts::new(Duration::from_secs(60));
        let now = Instant::now();
        // The read starts, the account is changed and forgotten, then the (old) row arrives.
        let before = recent.generation();
        recent.forget(1);
        recent.keep(account(1, true), before, now);
        assert!(recent.get(1, now).is_none(), "the row read before the change must not be kept");
        recent.keep(account(1, false), recent.generation(), now);
        assert!(!recent.get(1, now).unwrap().is_active);
    }

    #[test]
    fn no_more_than_max_kept_accounts_are_kept() {
        let recent = RecentAccounts::new(Duration::from_secs(1));
        let now = Instant::now();
        for id in 0..(MAX_KEPT as i64 + 5) {
            recent.keep(account(id, true), recent.generation(), now);
        }
        assert_eq!(recent.kept().rows.len(), MAX_KEPT);
        // Once those expire, room is made for new ones.
        let later = now + Duration::from_secs(2);
        recent.keep(account(-1, true), recent.generation(), later);
        assert!(recent.get(-1, later).is_some());
        assert_eq!(recent.kept().rows.len(), 1);
    }

    #[tokio::test]
    async fn a_read_in_flight_across_a_change_is_not_kept() {
        let recent = RecentAccounts::new(Duration::from_secs(60));
        let (row, read) = tokio::sync::oneshot::channel::<Result<Option<Account>>>();
        let finding = recent.find_or_read(1, async { read.await.unwrap() });
        tokio::pin!(finding);
        assert!(futures_util::poll!(finding.as_mut()).is_pending(), "the read is out");
        // The change commits and is forgotten while the read is out; the row
        // the read then returns is the one from before the change.
        recent.forget(1);
        row.send(Ok(Some(account(1, true)))).unwrap();
        assert!(finding.await.unwrap().unwrap().is_active, "this caller raced the change");
        assert!(recent.get(1, Instant::now()).is_none(), "but the old row is not kept");
        // A read that began after the change is kept.
        let fresh = recent.find_or_read(1, async { Ok(Some(account(1, false))) }).await.unwrap();
        assert!(!fresh.unwrap().is_active);
        assert!(!recent.get(1, Instant::now()).unwrap().is_active);
    }

    #[test]
    fn a_full_table_is_swept_at_most_once_a_ttl() {
        let recent = RecentAccounts::new(Duration::from_secs(1));
        let start = recent.kept().swept_at;
        for id in 0..MAX_KEPT as i64 {
            recent.keep(account(id, true), recent.generation(), start);
        }
        // Full and swept less than a TTL ago: the new row is not kept, and nothing was scanned away.
        let soon = start + Duration::from_millis(500);
        recent.keep(account(-1, true), recent.generation(), soon);
        assert!(recent.get(-1, soon).is_none());
        assert_eq!(recent.kept().swept_at, start);
    }
}
