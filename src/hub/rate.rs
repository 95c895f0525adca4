//! A token bucket: how often one session may send subscribe messages.

use std::time::Instant;

/// Allows `burst` actions at once, then `per_second` a second on average.
#[derive(Debug)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket { per_second: f64::from(per_second), burst, tokens: burst, refilled: now }
    }

    /// Takes a token if one is left; `false` means the caller is over the rate.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, 3, start);
        assert!((0..3).all(|_| bucket.try_take(start)), "the burst");
        assert!(!bucket.try_take(start), "past the burst");
        assert!(!bucket.try_take(start + Duration::from_millis(50)), "half a token");
        assert!(bucket.try_take(start + Duration::from_millis(100)), "one token a tenth of a second");
        assert!(!bucket.try_take(start + Duration::from_millis(100)));
        let later = start + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| bucket.try_take(later)).count(), 3, "never more than the burst");
    }

    #[test]
    fn a_zero_rate_allows_only_the_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(0, 1, start);
        assert!(bucket.try_take(start));
        assert!(!bucket.try_take(start + Duration::from_secs(3600)));
    }
}
