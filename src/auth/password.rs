//! argon2id hashing, always off the async threads, and never more at once than the machine can bear.

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};

use crate::error::{AppError, Result};

/// A valid argon2id hash of a random password, verified against when the user
/// does not exist so that unknown users and wrong passwords take the same time.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1q5Hc7n4mR8fmxEvpDTsBZdV4xLSmWRv2tzz9sN/p5Q";

/// Hashes a password with argon2id and a random salt.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| AppError::Internal(format!("hashing a password failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(format!("the hashing task failed: {e}")))?
}

/// Verifies a password; `None` as the hash burns the same time and fails.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| AppError::Internal(format!("a stored password hash is malformed: {e}")))?;
        let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(|e| AppError::Internal(format!("the hashing task failed: {e}")))?
}

/// Bounds the argon2 computations running at once: each holds about 19 MiB and a
/// core for tens of milliseconds, so a burst of logins must queue, not pile up.
/// A caller waits at most `wait` for its turn, then gets 503.
pub struct PasswordGate {
    permits: Semaphore,
    wait: Duration,
}

impl PasswordGate {
    pub fn new(concurrency: usize, wait: Duration) -> Self {
        PasswordGate { permits: Semaphore::new(concurrency.max(1)), wait }
    }

    /// A turn to hash or verify a password, or 503 when none frees up in time.
    pub async fn turn(&self) -> Result<SemaphorePermit<'_>> {
        match tokio::time::timeout(self.wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(AppError::Unavailable("too many sign-ins at once; try again in a moment".into())),
        }
    }

    /// [`verify_password`] in turn.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool> {
        let _turn = self.turn().await?;
        verify_password(password, hash).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify_password("wrong horse".into(), Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn a_caller_waits_for_a_turn_then_gets_503() {
        let gate = PasswordGate::new(1, Duration::from_millis(50));
        let held = gate.turn().await.unwrap();
        let refused = gate.verify("x".into(), None).await.unwrap_err();
        assert!(matches!(refused, AppError::Unavailable(_)), "{refused:?}");
        drop(held);
        assert!(!gate.verify("x".into(), None).await.unwrap(), "with a free turn it verifies (and fails: no user)");
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify_password("anything".into(), None).await.unwrap());
    }
}
