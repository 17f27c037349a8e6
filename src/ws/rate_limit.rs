//! The per-connection rate limit: `burst` requests at once and `rate` per second
//! after that, and the line between a client that is slowed down and one that is
//! closed (design §9).
//!
//! A refused frame is told when to come back (`retry_after`): the next token that
//! no earlier refused frame was told to come back for, so that a client retrying
//! several requests as told finds a token for each. Only frames that arrive before
//! the time the connection was last told are strikes: a client that waits as told,
//! with any few requests in flight, is slowed down to the rate and never closed; one
//! that keeps sending regardless runs up twice the burst in strikes and is.

use std::time::Duration;

use tokio::time::Instant;

/// What to do with one incoming frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Answer `rate_limited`: come back after `retry_after`.
    Refuse {
        retry_after: Duration,
    },
    /// The client keeps sending while told to wait: close it with 4429.
    Abuse,
}

/// A token bucket kept as the time it is full again (GCRA), in exact durations.
pub struct RateLimiter {
    /// The time between two tokens.
    interval: Duration,
    /// How far ahead of now `full_at` may be with a token still left:
    /// `burst - 1` intervals.
    tolerance: Duration,
    /// When the bucket is full again if no more frames come: each accepted frame
    /// moves it one interval later.
    full_at: Instant,
    /// The latest time a refused frame was told to come back.
    told: Instant,
    /// Frames sent while told to wait, not yet paid back by accepted frames.
    strikes: u32,
    /// Strikes that make a client abusive: twice the burst.
    max_strikes: u32,
}

impl RateLimiter {
    /// `rate` and `burst` are at least 1 (the settings say so).
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let interval = Duration::from_secs(1) / rate.max(1);
        RateLimiter {
            interval,
            tolerance: interval * burst.max(1).saturating_sub(1),
            full_at: now,
            told: now,
            strikes: 0,
            max_strikes: burst.saturating_mul(2),
        }
    }

    /// Takes a token for a frame that arrived at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let full_at = self.full_at.max(now);
        if full_at <= now + self.tolerance {
            self.full_at = full_at + self.interval;
            // A frame let through pays back one strike: a client that slows down
            // recovers, one that keeps sending far over the rate keeps accruing.
            self.strikes = self.strikes.saturating_sub(1);
            return Verdict::Allow;
        }
        if now < self.told {
            self.strikes += 1;
            if self.strikes >= self.max_strikes {
                return Verdict::Abuse;
            }
        }
        let next_token = full_at - self.tolerance;
        self.told = next_token.max(self.told + self.interval);
        // Rounded up to whole milliseconds, so that a client that waits that long
        // does not arrive before its token.
        let wait_ms = (self.told - now).as_nanos().div_ceil(1_000_000);
        Verdict::Refuse {
            retry_after: Duration::from_millis(wait_ms as u64),
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
    fn sending_while_told_to_wait_is_abuse_at_twice_the_burst() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(1, 2, start);
        assert_eq!(limiter.check(start), Verdict::Allow);
        assert_eq!(limiter.check(start), Verdict::Allow);
        // The first refusal tells the client to wait; the next 3 frames do not.
        for _ in 0..4 {
            assert!(matches!(limiter.check(start), Verdict::Refuse { .. }));
        }
        assert_eq!(limiter.check(start), Verdict::Abuse);
    }

    #[test]
    fn each_refused_frame_is_told_its_own_token() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 2, start);
        assert_eq!(limiter.check(start), Verdict::Allow);
        assert_eq!(limiter.check(start), Verdict::Allow);
        let waits: Vec<_> = (0..3)
            .map(|_| match limiter.check(start) {
                Verdict::Refuse { retry_after } => retry_after.as_millis(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(waits, [100, 200, 300]);
        // Each comes back when told, and gets its token.
        for wait in waits {
            let now = start + Duration::from_millis(wait as u64);
            assert_eq!(limiter.check(now), Verdict::Allow);
        }
    }

    #[test]
    fn a_retry_refused_again_after_its_wait_is_no_strike() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(10, 1, start);
        assert_eq!(limiter.check(start), Verdict::Allow);
        assert!(matches!(limiter.check(start), Verdict::Refuse { .. }));
        // Another frame takes the token first; the retry, on time, is refused again.
        let due = start + Duration::from_millis(100);
        assert_eq!(limiter.check(due), Verdict::Allow);
        assert!(matches!(limiter.check(due), Verdict::Refuse { .. }));
        assert_eq!(limiter.strikes, 0);
    }

    /// A client with `in_flight` requests out that, on `rate_limited`, sends that
    /// request again after `retry_after`, and a new one as soon as one is accepted
    /// (no network delay: the least patient an obedient client can be). Returns how
    /// long `total` requests took.
    fn obedient(rate: u32, burst: u32, in_flight: usize, total: usize) -> Duration {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(rate, burst, start);
        // When each request is sent next (several at one instant, in order).
        let mut sends: Vec<Instant> = vec![start; in_flight];
        let (mut sent, mut accepted, mut now) = (in_flight, 0, start);
        while accepted < total {
            let next = (0..sends.len()).min_by_key(|&i| sends[i]).unwrap();
            now = sends.swap_remove(next);
            match limiter.check(now) {
                Verdict::Allow => {
                    accepted += 1;
                    if sent < total {
                        sends.push(now);
                        sent += 1;
                    }
                }
                Verdict::Refuse { retry_after } => sends.push(now + retry_after),
                Verdict::Abuse => panic!(
                    "{in_flight} in flight, obeying retry_after: closed after {accepted} accepted"
                ),
            }
        }
        now - start
    }

    #[test]
    fn a_client_that_waits_as_told_is_slowed_down_never_abuse() {
        for in_flight in [1, 2, 4, 16, 64] {
            let took = obedient(20, 40, in_flight, 1_000);
            // 40 at once, then 20 a second.
            assert_eq!(
                took,
                Duration::from_millis(960 * 50),
                "{in_flight} in flight"
            );
        }
        // Any rate, with up to twice the burst in flight.
        obedient(5, 5, 10, 100);
        obedient(3, 2, 4, 100);
    }

    #[test]
    fn a_flood_is_abuse_after_the_burst_and_twice_the_burst_in_strikes() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(20, 40, start);
        let verdicts: Vec<_> = (0..1_000).map(|_| limiter.check(start)).collect();
        let abuse = verdicts.iter().position(|v| *v == Verdict::Abuse);
        // 40 allowed, one refusal that tells the client to wait, then 80 strikes.
        assert_eq!(abuse, Some(40 + 1 + 79));
    }

    #[test]
    fn a_client_sending_steadily_over_the_rate_is_abuse() {
        let start = Instant::now();
        let mut limiter = RateLimiter::new(20, 40, start);
        // Ten times the rate, whatever the answers say: closed within a second.
        let abuse = (0..10_000)
            .map(|i| start + Duration::from_millis(5 * i))
            .position(|now| limiter.check(now) == Verdict::Abuse)
            .expect("closed");
        assert!(abuse < 200, "closed after {abuse} frames");
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
