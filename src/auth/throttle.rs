//! Login throttling: repeated failures for a username or from an address get 429.
//!
//! An attempt is *reserved* before the slow password check: the reservation
//! counts as a failure at once, so a burst of simultaneous guesses gets no more
//! tries than the limit. A successful login gives the username's count back.
//! Memory is bounded: at most `max_entries` keys, the oldest forgotten first,
//! found through an insertion-ordered queue rather than a scan of the map.

use std::{
    collections::VecDeque,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use dashmap::{DashMap, mapref::entry::Entry};

use crate::error::AppError;

/// Failure counters per username and per client address, each in a fixed window.
pub struct LoginThrottle {
    failures: DashMap<String, Window>,
    /// Keys in the order their windows started, to forget the oldest without scanning the map.
    ages: Mutex<VecDeque<(String, Instant)>>,
    max_per_user: u32,
    max_per_address: u32,
    window: Duration,
    max_entries: usize,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

/// A reserved login attempt: already counted as a failure; `succeeded` takes it back.
#[must_use = "a reservation that is dropped stays counted as a failure"]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    user_key: String,
    address_key: String,
}

impl Attempt<'_> {
    /// The password was right: the username's failures are cleared, and this
    /// attempt no longer counts against the address (its earlier failures stay).
    pub fn succeeded(self) {
        self.throttle.failures.remove(&self.user_key);
        self.throttle.give_back(&self.address_key);
    }
}

impl LoginThrottle {
    /// `max_failures` per username; an address may fail four times as often (several users share NATs).
    pub fn new(max_failures: u32, window: Duration, max_entries: usize) -> Self {
        LoginThrottle {
            failures: DashMap::new(),
            ages: Mutex::new(VecDeque::new()),
            max_per_user: max_failures,
            max_per_address: max_failures.saturating_mul(4),
            window,
            max_entries: max_entries.max(2),
        }
    }

    /// Counts the attempt against the username and the address, or refuses it
    /// (429, with the wait) when either is at its limit. Each count is checked and
    /// raised under its map entry's lock, so simultaneous attempts cannot overshoot.
    pub fn reserve(&self, username: &str, address: IpAddr) -> Result<Attempt<'_>, AppError> {
        let user_key = format!("user:{}", username.to_lowercase());
        let address_key = format!("addr:{address}");
        self.take(&user_key, self.max_per_user)?;
        if let Err(refused) = self.take(&address_key, self.max_per_address) {
            self.give_back(&user_key);
            return Err(refused);
        }
        Ok(Attempt { throttle: self, user_key, address_key })
    }

    /// Number of usernames and addresses remembered.
    pub fn len(&self) -> usize {
        self.failures.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.failures.is_empty()
    }

    fn take(&self, key: &str, max: u32) -> Result<(), AppError> {
        let now = Instant::now();
        // Whether this attempt starts the key's window (a new key, or an expired window).
        let window_started = match self.failures.entry(key.to_owned()) {
            Entry::Occupied(mut entry) => {
                let window = entry.get_mut();
                let expired = window.started.elapsed() >= self.window;
                if expired {
                    *window = Window { started: now, count: 0 };
                }
                if window.count >= max {
                    let wait = self.window.saturating_sub(window.started.elapsed()).as_secs().max(1);
                    return Err(AppError::RateLimited(wait));
                }
                window.count += 1;
                expired
            }
            Entry::Vacant(entry) => {
                entry.insert(Window { started: now, count: 1 });
                true
            }
        };
        if window_started {
            self.remember_age(key, now);
        }
        Ok(())
    }

    fn give_back(&self, key: &str) {
        if let Some(mut window) = self.failures.get_mut(key) {
            window.count = window.count.saturating_sub(1);
        }
    }

    /// Records when a key's window started and forgets the oldest keys beyond the cap.
    /// Each key enters the queue once per window, so the work is constant per attempt.
    fn remember_age(&self, key: &str, started: Instant) {
        let mut ages = self.ages.lock().unwrap_or_else(|e| e.into_inner());
        ages.push_back((key.to_owned(), started));
        while ages.len() > self.max_entries || self.failures.len() > self.max_entries {
            let Some((oldest, at)) = ages.pop_front() else { break };
            // Forget it only if its entry is still the window recorded here (not restarted since).
            self.failures.remove_if(&oldest, |_, window| window.started == at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn fail(throttle: &LoginThrottle, username: &str, address: IpAddr) {
        drop(throttle.reserve(username, address).unwrap());
    }

    #[test]
    fn the_limit_applies_per_username_and_resets_on_success() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(60), 1000);
        for _ in 0..3 {
            fail(&throttle, "ann", HOME);
        }
        assert!(matches!(throttle.reserve("Ann", HOME), Err(AppError::RateLimited(_))));
        assert!(throttle.reserve("bob", HOME).is_ok());
        let other = LoginThrottle::new(3, Duration::from_secs(60), 1000);
        fail(&other, "ann", HOME);
        fail(&other, "ann", HOME);
        other.reserve("ann", HOME).unwrap().succeeded();
        for _ in 0..3 {
            fail(&other, "ann", HOME);
        }
        assert!(other.reserve("ann", HOME).is_err(), "a success gave the whole count back, no more");
    }

    #[test]
    fn an_address_trying_many_usernames_is_limited() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60), 1000);
        for i in 0..8 {
            fail(&throttle, &format!("user{i}"), HOME);
        }
        assert!(matches!(throttle.reserve("fresh", HOME), Err(AppError::RateLimited(_))));
        assert_eq!(throttle.failures.get("user:fresh").map_or(0, |w| w.count), 0, "a refused attempt is not counted");
    }

    #[test]
    fn successful_logins_never_lock_out_an_address() {
        let throttle = LoginThrottle::new(2, Duration::from_secs(60), 1000);
        for i in 0..50 {
            throttle.reserve(&format!("worker{}", i % 5), HOME).unwrap().succeeded();
        }
        assert!(throttle.reserve("anyone", HOME).is_ok(), "50 good logins from one address count for nothing");
    }

    #[test]
    fn failures_expire_with_the_window() {
        let throttle = LoginThrottle::new(1, Duration::from_millis(1), 1000);
        fail(&throttle, "ann", HOME);
        std::thread::sleep(Duration::from_millis(5));
        assert!(throttle.reserve("ann", HOME).is_ok());
    }

    #[test]
    fn simultaneous_attempts_never_exceed_the_limit() {
        let throttle = std::sync::Arc::new(LoginThrottle::new(5, Duration::from_secs(60), 1000));
        let granted = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|scope| {
            for _ in 0..64 {
                scope.spawn(|| {
                    if let Ok(attempt) = throttle.reserve("ann", HOME) {
                        granted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        drop(attempt);
                    }
                });
            }
        });
        assert_eq!(granted.into_inner(), 5);
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_are_forgotten_first() {
        let throttle = LoginThrottle::new(5, Duration::from_secs(60), 100);
        for i in 0..1000u32 {
            let address = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            fail(&throttle, &format!("user{i}"), address);
        }
        assert!(throttle.len() <= 100, "{} keys remembered", throttle.len());
        assert!(throttle.failures.contains_key("user:user999"), "the newest are kept");
        assert!(!throttle.failures.contains_key("user:user0"), "the oldest are forgotten");
        assert!(throttle.ages.lock().unwrap().len() <= 100);
    }
}
