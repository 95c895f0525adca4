//! Login throttling: repeated failures for a username or from an address get 429.

use std::{
    net::IpAddr,
    time::{Duration, Instant},
};

use dashmap::DashMap;

use crate::error::AppError;

/// Failure counters per username and per client address, each in a fixed window.
pub struct LoginThrottle {
    failures: DashMap<String, Window>,
    max_per_user: u32,
    max_per_address: u32,
    window: Duration,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

impl LoginThrottle {
    /// `max_failures` per username; an address may fail four times as often (several users share NATs).
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginThrottle {
            failures: DashMap::new(),
            max_per_user: max_failures,
            max_per_address: max_failures * 4,
            window,
        }
    }

    /// Refuses the attempt while the username or the address is over its limit.
    pub fn check(&self, username: &str, address: IpAddr) -> Result<(), AppError> {
        for (key, max) in self.keys(username, address) {
            if let Some(window) = self.failures.get(&key) {
                let elapsed = window.started.elapsed();
                if elapsed < self.window && window.count >= max {
                    let wait = (self.window - elapsed).as_secs().max(1);
                    return Err(AppError::RateLimited(wait));
                }
            }
        }
        Ok(())
    }

    /// Counts a failed attempt against both the username and the address.
    pub fn record_failure(&self, username: &str, address: IpAddr) {
        let now = Instant::now();
        for (key, _) in self.keys(username, address) {
            let mut entry = self.failures.entry(key).or_insert(Window { started: now, count: 0 });
            if entry.started.elapsed() >= self.window {
                *entry = Window { started: now, count: 0 };
            }
            entry.count += 1;
        }
        if self.failures.len() > 100_000 {
            self.failures.retain(|_, w| w.started.elapsed() < self.window);
        }
    }

    /// A successful login clears the username's failures (not the address's).
    pub fn record_success(&self, username: &str) {
        self.failures.remove(&format!("user:{}", username.to_lowercase()));
    }

    fn keys(&self, username: &str, address: IpAddr) -> [(String, u32); 2] {
        [
            (format!("user:{}", username.to_lowercase()), self.max_per_user),
            (format!("addr:{address}"), self.max_per_address),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn the_limit_applies_per_username_and_resets_on_success() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(throttle.check("ann", HOME).is_ok());
            throttle.record_failure("ann", HOME);
        }
        assert!(matches!(throttle.check("Ann", HOME), Err(AppError::RateLimited(_))));
        assert!(throttle.check("bob", HOME).is_ok());
        throttle.record_success("ann");
        assert!(throttle.check("ann", HOME).is_ok());
    }

    #[test]
    fn an_address_trying_many_usernames_is_limited() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60));
        for i in 0..8 {
            throttle.record_failure(&format!("user{i}"), HOME);
        }
        assert!(matches!(throttle.check("fresh", HOME), Err(AppError::RateLimited(_))));
    }

    #[test]
    fn failures_expire_with_the_window() {
        let throttle = LoginThrottle::new(1, Duration::from_millis(1));
        throttle.record_failure("ann", HOME);
        std::thread::sleep(Duration::from_millis(5));
        assert!(throttle.check("ann", HOME).is_ok());
    }
}
