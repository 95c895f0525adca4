//! Exclusive locks with a time to live, renewed while held: in-process for the
//! embedded default, Redis when instances share the work.

mod local;
mod redis;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use rand::RngCore;
use tokio_util::sync::CancellationToken;
use tracing::warn;

pub use self::{local::LocalLock, redis::RedisLock};

/// Why a lock operation could not be carried out (the backend, not contention).
#[derive(Debug, thiserror::Error)]
#[error("lock backend: {0}")]
pub struct LockError(pub String);

/// A place to keep locks. Every operation names the holder's token, so only the
/// holder can renew or release.
#[async_trait]
pub trait LockBackend: Send + Sync + 'static {
    /// Takes the lock if it is free (or expired); false when someone else holds it.
    async fn acquire(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, LockError>;
    /// Extends the lock if `token` still holds it.
    async fn renew(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, LockError>;
    /// Releases the lock if `token` holds it; never someone else's.
    async fn release(&self, key: &str, token: &str) -> Result<bool, LockError>;
}

/// Hands out guards that renew themselves.
#[derive(Clone)]
pub struct Locks {
    backend: Arc<dyn LockBackend>,
    ttl: Duration,
}

impl Locks {
    pub fn new(backend: Arc<dyn LockBackend>, ttl: Duration) -> Self {
        Locks { backend, ttl }
    }

    /// The lock, or `None` while someone else holds it. The guard renews the lock
    /// every third of its TTL until released; a crashed holder's lock simply expires.
    pub async fn try_acquire(&self, key: &str) -> Result<Option<LockGuard>, LockError> {
        let token = random_token();
        if !self.backend.acquire(key, &token, self.ttl).await? {
            return Ok(None);
        }
        let lost = CancellationToken::new();
        let stop = CancellationToken::new();
        tokio::spawn(renew_until_stopped(
            self.backend.clone(),
            key.to_owned(),
            token.clone(),
            self.ttl,
            stop.clone(),
            lost.clone(),
        ));
        Ok(Some(LockGuard { backend: self.backend.clone(), key: key.to_owned(), token, stop, lost }))
    }
}

/// A held lock. Release it explicitly; dropping it stops the renewal and
/// releases in the background.
pub struct LockGuard {
    backend: Arc<dyn LockBackend>,
    key: String,
    token: String,
    stop: CancellationToken,
    /// Cancelled if a renewal found the lock gone: whoever works under it should stop.
    pub lost: CancellationToken,
}

impl LockGuard {
    /// Stops renewing and releases the lock (only if still ours).
    pub async fn release(self) {
        self.stop.cancel();
        if let Err(err) = self.backend.release(&self.key, &self.token).await {
            warn!(key = %self.key, error = %err, "releasing a lock failed; it will expire");
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.stop.is_cancelled() {
            return;
        }
        self.stop.cancel();
        let (backend, key, token) = (self.backend.clone(), self.key.clone(), self.token.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = backend.release(&key, &token).await;
            });
        }
    }
}

async fn renew_until_stopped(
    backend: Arc<dyn LockBackend>,
    key: String,
    token: String,
    ttl: Duration,
    stop: CancellationToken,
    lost: CancellationToken,
) {
    let every = ttl / 3;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        match backend.renew(&key, &token, ttl).await {
            Ok(true) => {}
            Ok(false) => {
                warn!(%key, "lost a lock: it expired or was taken over");
                lost.cancel();
                return;
            }
            Err(err) => warn!(%key, error = %err, "renewing a lock failed; retrying"),
        }
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
