//! The Redis lock backend: `SET key token NX PX ttl`, renewed and released by
//! compare-and-act scripts, so only the holder can extend or delete it.

use std::time::Duration;

use async_trait::async_trait;
use redis::{Client, Script, aio::ConnectionManager};
use tokio::sync::OnceCell;

use super::{LockBackend, LockError};

const RENEW: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("PEXPIRE", KEYS[1], ARGV[2])
else
    return 0
end"#;

const RELEASE: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
else
    return 0
end"#;

/// Locks shared by every instance that uses the same Redis and prefix.
pub struct RedisLock {
    client: Client,
    /// Connected on first use (and reconnecting by itself afterwards), so the
    /// server starts even while Redis is down; lock calls fail until it is back.
    connection: OnceCell<ConnectionManager>,
    prefix: String,
    renew: Script,
    release: Script,
}

impl RedisLock {
    /// Checks the URL; connects lazily.
    pub fn new(url: &str, prefix: &str) -> Result<Self, LockError> {
        let client = Client::open(url).map_err(|e| LockError(e.to_string()))?;
        Ok(RedisLock {
            client,
            connection: OnceCell::new(),
            prefix: format!("{prefix}lock:"),
            renew: Script::new(RENEW),
            release: Script::new(RELEASE),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, LockError> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                // Fail fast while Redis is down: the caller answers 503 and a later call tries again.
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_number_of_retries(1)
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(2)));
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .map_err(|e| LockError(e.to_string()))?;
        Ok(connection.clone())
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

fn millis(ttl: Duration) -> u64 {
    ttl.as_millis().max(1) as u64
}

#[async_trait]
impl LockBackend for RedisLock {
    async fn acquire(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, LockError> {
        let mut connection = self.connection().await?;
        let reply: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut connection)
            .await
            .map_err(|e| LockError(e.to_string()))?;
        Ok(reply.is_some())
    }

    async fn renew(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, LockError> {
        let mut connection = self.connection().await?;
        let renewed: i64 = self
            .renew
            .key(self.key(key))
            .arg(token)
            .arg(millis(ttl))
            .invoke_async(&mut connection)
            .await
            .map_err(|e| LockError(e.to_string()))?;
        Ok(renewed == 1)
    }

    async fn release(&self, key: &str, token: &str) -> Result<bool, LockError> {
        let mut connection = self.connection().await?;
        let released: i64 = self
            .release
            .key(self.key(key))
            .arg(token)
            .invoke_async(&mut connection)
            .await
            .map_err(|e| LockError(e.to_string()))?;
        Ok(released == 1)
    }
}
