//! When to try a transiently failed message again.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: i64,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The delay after attempt number `attempt` (1-based) failed, or None
    /// when no attempt is left. Exponential with "equal jitter": half the
    /// delay is fixed, half random, so retries of a burst spread out.
    pub fn delay_after(&self, attempt: i64) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exp = attempt.clamp(1, 30) as u32 - 1;
        let full = self
            .base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.max_delay);
        let half = full / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
        Some(half + Duration::from_millis(jitter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_within_bounds_and_stops() {
        let p = RetryPolicy {
            max_attempts: 4,
            base: Duration::from_secs(10),
            max_delay: Duration::from_secs(25),
        };
        let d1 = p.delay_after(1).unwrap();
        assert!(d1 >= Duration::from_secs(5) && d1 <= Duration::from_secs(10));
        let d2 = p.delay_after(2).unwrap();
        assert!(d2 >= Duration::from_secs(10) && d2 <= Duration::from_secs(20));
        let d3 = p.delay_after(3).unwrap();
        assert!(d3 >= Duration::from_millis(12_500) && d3 <= Duration::from_secs(25));
        assert_eq!(p.delay_after(4), None);
    }
}
