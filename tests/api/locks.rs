//! The distributed lock against the real Redis: contention, renewal, expiry, ownership.

use std::{sync::Arc, time::Duration};

use taskwire::lock::{LockBackend, Locks, RedisLock};

use crate::helpers::*;

async fn redis_lock() -> Arc<RedisLock> {
    let prefix = format!("taskwire-test-{:016x}:", rand::random::<u64>());
    Arc::new(RedisLock::new("redis://127.0.0.1:6379", &prefix).expect("a valid Redis URL"))
}

#[tokio::test]
async fn two_holders_contend_and_only_one_wins() {
    let backend = redis_lock().await;
    let a = Locks::new(backend.clone(), Duration::from_secs(5));
    let b = Locks::new(backend, Duration::from_secs(5));
    let (first, second) = tokio::join!(a.try_acquire("import"), b.try_acquire("import"));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(first.is_some() != second.is_some(), "exactly one of two contenders holds the lock");
    let holder = first.or(second).unwrap();
    assert!(a.try_acquire("import").await.unwrap().is_none());
    holder.release().await;
    assert!(b.try_acquire("import").await.unwrap().is_some(), "released means free");
}

#[tokio::test]
async fn a_held_lock_is_renewed_past_its_ttl() {
    let backend = redis_lock().await;
    let locks = Locks::new(backend.clone(), Duration::from_millis(300));
    let guard = locks.try_acquire("import").await.unwrap().expect("free at first");
    // Three TTLs later the holder's renewals kept it.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(locks.try_acquire("import").await.unwrap().is_none(), "still held thanks to renewal");
    assert!(!guard.lost.is_cancelled());
    guard.release().await;
    assert!(locks.try_acquire("import").await.unwrap().is_some());
}

#[tokio::test]
async fn an_abandoned_lock_expires_with_its_ttl() {
    let backend = redis_lock().await;
    // A holder that crashed: it took the lock and never renewed nor released it.
    assert!(backend.acquire("import", "crashed-holder", Duration::from_millis(200)).await.unwrap());
    assert!(!backend.acquire("import", "newcomer", Duration::from_secs(5)).await.unwrap());
    let deadline = tokio::time::Instant::now() + WAIT;
    while !backend.acquire("import", "newcomer", Duration::from_secs(5)).await.unwrap() {
        assert!(tokio::time::Instant::now() < deadline, "the abandoned lock never expired");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        !backend.renew("import", "crashed-holder", Duration::from_secs(5)).await.unwrap(),
        "the old holder cannot renew"
    );
}

#[tokio::test]
async fn only_the_holder_releases_or_renews() {
    let backend = redis_lock().await;
    assert!(backend.acquire("import", "holder", Duration::from_secs(5)).await.unwrap());
    assert!(!backend.release("import", "intruder").await.unwrap());
    assert!(!backend.renew("import", "intruder", Duration::from_secs(5)).await.unwrap());
    assert!(!backend.acquire("import", "intruder", Duration::from_secs(5)).await.unwrap(), "still held");
    assert!(backend.release("import", "holder").await.unwrap());
    assert!(backend.acquire("import", "intruder", Duration::from_secs(5)).await.unwrap());
}
