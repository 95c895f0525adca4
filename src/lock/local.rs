//! The in-process lock backend: one map, for a single instance.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;

use super::{LockBackend, LockError};

/// Locks held by this process: key → (token, expiry).
#[derive(Default)]
pub struct LocalLock {
    held: Mutex<HashMap<String, (String, Instant)>>,
}

impl LocalLock {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (String, Instant)>) -> T) -> T {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut held)
    }
}

#[async_trait]
impl LockBackend for LocalLock {
    async fn acquire(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, LockError> {
        Ok(self.with(|held| {
            let now = Instant::now();
            match held.get(key) {
                Some((_, expires)) if *expires > now => false,
                _ => {
                    held.insert(key.to_owned(), (token.to_owned(), now + ttl));
                    true
                }
            }
        }))
    }

    async fn renew(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, LockError> {
        Ok(self.with(|held| match held.get_mut(key) {
            Some((holder, expires)) if holder == token && *expires > Instant::now() => {
                *expires = Instant::now() + ttl;
                true
            }
            _ => false,
        }))
    }

    async fn release(&self, key: &str, token: &str) -> Result<bool, LockError> {
        Ok(self.with(|held| {
            if held.get(key).is_some_and(|(holder, _)| holder == token) {
                held.remove(key);
                true
            } else {
                false
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_and_only_the_holder_releases() {
        let lock = LocalLock::default();
        let ttl = Duration::from_secs(10);
        assert!(lock.acquire("k", "a", ttl).await.unwrap());
        assert!(!lock.acquire("k", "b", ttl).await.unwrap());
        assert!(!lock.release("k", "b").await.unwrap());
        assert!(!lock.renew("k", "b", ttl).await.unwrap());
        assert!(lock.renew("k", "a", ttl).await.unwrap());
        assert!(lock.release("k", "a").await.unwrap());
        assert!(lock.acquire("k", "b", ttl).await.unwrap());
    }

    #[tokio::test]
    async fn an_expired_lock_can_be_taken() {
        let lock = LocalLock::default();
        assert!(lock.acquire("k", "a", Duration::from_millis(5)).await.unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(lock.acquire("k", "b", Duration::from_secs(10)).await.unwrap());
        assert!(!lock.renew("k", "a", Duration::from_secs(10)).await.unwrap());
    }
}
