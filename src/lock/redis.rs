//! The Redis lock backend: `SET key token NX PX ttl`, renewed and released by
//! compare-and-act scripts, so only the holder can extend or delete it.

use std::time::Duration;

use async_trait::async_trait;
use redis::{Client, Script, aio::ConnectionManager};

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
    connection: ConnectionManager,
    prefix: String,
    renew: Script,
    release: Script,
}

impl RedisLock {
    /// Connects (with automatic reconnection afterwards).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, LockError> {
        let client = Client::open(url).map_err(|e| LockError(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let connection =
            ConnectionManager::new_with_config(client, config).await.map_err(|e| LockError(e.to_string()))?;
        Ok(RedisLock {
            connection,
            prefix: format!("{prefix}lock:"),
            renew: Script::new(RENEW),
            release: Script::new(RELEASE),
        })
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
        let mut connection = self.connection.clone();
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
        let mut connection = self.connection.clone();
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
        let mut connection = self.connection.clone();
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
