//! The per-connection rate limit: a token bucket, `burst` requests at once and
//! `rate` per second after that.

use std::time::Duration;

use tokio::time::Instant;

/// What to do with one incoming frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Answer `rate_limited`: a token is back after `retry_after`.
    Refuse {
        retry_after: Duration,
    },
    /// The client keeps sending far over the rate: close it with 4429.
    Abuse,
}

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
    /// Refusals not yet paid back by accepted requests.
    strikes: u32,
    /// Strikes that make a client abusive: twice the burst.
    max_strikes: u32,
}

impl RateLimiter {
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        RateLimiter {
            rate: rate as f64,
            burst: burst as f64,
            tokens: burst as f64,
            refilled: now,
            strikes: 0,
            max_strikes: burst.saturating_mul(2),
        }
    }

    /// Takes a token for a frame that arrived at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            // A frame let through pays back one refusal: a client that slows down
            // recovers, one that keeps sending far over the rate keeps accruing.
            self.strikes = self.strikes.saturating_sub(1);
            return Verdict::Allow;
        }
        self.strikes += 1;
        if self.strikes >= self.max_strikes {
            return Verdict::Abuse;
        }
        let wait_ms = ((1.0 - self.tokens) / self.rate * 1000.0).ceil() as u64;
        Verdict::Refuse {
            retry_after: Duration::from_millis(wait_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 3, start);
        for _ in 0..3 {
            assert_eq!(limiter.check(start), Verdict::Allow);
        }
        assert_eq!(
            limiter.check(start),
            Verdict::Refuse {
                retry_after: Duration::from_millis(100)
            }
        );
        // One token back every 100 ms.
        assert_eq!(
            limiter.check(start + Duration::from_millis(100)),
            Verdict::Allow
        );
    }

    #[test]
    fn the_wait_shrinks_as_the_token_refills() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 1, start);
        assert_eq!(limiter.check(start), Verdict::Allow);
        assert_eq!(
            limiter.check(start + Duration::from_millis(60)),
            Verdict::Refuse {
                retry_after: Duration::from_millis(40)
            }
        );
    }

    #[test]
    fn refusing_without_pause_is_abuse_at_twice_the_burst() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(1, 2, start);
        assert_eq!(limiter.check(start), Verdict::Allow);
        assert_eq!(limiter.check(start), Verdict::Allow);
        for _ in 0..3 {
            assert!(matches!(limiter.check(start), Verdict::Refuse { .. }));
        }
        assert_eq!(limiter.check(start), Verdict::Abuse);
    }

    #[test]
    fn accepted_frames_pay_back_strikes() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(1, 2, start);
        limiter.check(start);
        limiter.check(start);
        for _ in 0..3 {
            limiter.check(start);
        }
        // Each second a token comes back and a strike is forgiven.
        let mut now = start;
        for _ in 0..3 {
            now += Duration::from_secs(1);
            assert_eq!(limiter.check(now), Verdict::Allow);
        }
        for _ in 0..3 {
            assert!(matches!(limiter.check(now), Verdict::Refuse { .. }));
        }
    }
}
