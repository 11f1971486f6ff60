//! What limits sending: a token bucket and a connection cap per channel
//! configuration, and per destination domain a cap on sends in flight plus
//! a breaker that pauses a domain that keeps failing, so one broken domain
//! cannot hold the slots every other domain needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Semaphore;

use herald_domain::delivery_settings::Rate;

/// A token bucket in its GCRA form: `tat` is the theoretical arrival time
/// of the next conforming send. Exact at any rate, O(1) state.
#[derive(Debug)]
pub struct Bucket {
    interval: Duration,
    /// How far ahead of now `tat` may run: (burst - 1) intervals.
    tolerance: Duration,
    tat: Option<DateTime<Utc>>,
    /// Where the last deferred message was placed: deferrals are spread
    /// one interval apart instead of all waking at the same instant.
    deferred_until: Option<DateTime<Utc>>,
}

impl Bucket {
    pub fn new(rate: &Rate) -> Bucket {
        let interval = Duration::from_std(rate.interval()).unwrap_or(Duration::seconds(1));
        Bucket {
            interval,
            tolerance: interval * (rate.burst() as i32 - 1),
            tat: None,
            deferred_until: None,
        }
    }

    /// Takes a token at `now`, or says when one will be there.
    pub fn take(&mut self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let tat = self.tat.map_or(now, |t| t.max(now));
        if tat - now > self.tolerance {
            return Err(tat - self.tolerance);
        }
        self.tat = Some(tat + self.interval);
        Ok(())
    }

    /// When a message that found no token should come back: the first free
    /// slot after the other messages deferred before it.
    pub fn defer(&mut self, earliest: DateTime<Utc>) -> DateTime<Utc> {
        let at = match self.deferred_until {
            Some(d) if d >= earliest => d + self.interval,
            _ => earliest,
        };
        self.deferred_until = Some(at);
        at
    }
}

/// After this many transient failures in a row, a domain is paused.
const PAUSE_AFTER: u32 = 5;
const FIRST_PAUSE_SECONDS: i64 = 30;
const LONGEST_PAUSE_SECONDS: i64 = 15 * 60;

#[derive(Debug)]
struct DomainState {
    in_flight: Arc<Semaphore>,
    failures_in_a_row: u32,
    pauses: u32,
    paused_until: Option<DateTime<Utc>>,
}

/// Per destination domain: sends in flight and the breaker.
#[derive(Debug)]
pub struct Domains {
    per_domain: usize,
    state: Mutex<HashMap<String, DomainState>>,
}

impl Domains {
    pub fn new(per_domain: usize) -> Domains {
        Domains {
            per_domain: per_domain.max(1),
            state: Mutex::new(HashMap::new()),
        }
    }

    fn with<R>(&self, domain: &str, f: impl FnOnce(&mut DomainState) -> R) -> R {
        let mut map = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let per_domain = self.per_domain;
        let st = map
            .entry(domain.to_string())
            .or_insert_with(|| DomainState {
                in_flight: Arc::new(Semaphore::new(per_domain)),
                failures_in_a_row: 0,
                pauses: 0,
                paused_until: None,
            });
        f(st)
    }

    pub fn slots(&self, domain: &str) -> Arc<Semaphore> {
        self.with(domain, |s| s.in_flight.clone())
    }

    /// Until when `domain` is paused, if it is at `now`.
    pub fn paused_until(&self, domain: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.with(domain, |s| s.paused_until.filter(|u| *u > now))
    }

    /// Every domain paused at `now` (the claim leaves their messages alone).
    pub fn paused(&self, now: DateTime<Utc>) -> Vec<String> {
        let map = self.state.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .filter(|(_, s)| s.paused_until.is_some_and(|u| u > now))
            .map(|(d, _)| d.clone())
            .collect()
    }

    pub fn succeeded(&self, domain: &str) {
        self.with(domain, |s| {
            s.failures_in_a_row = 0;
            s.pauses = 0;
            s.paused_until = None;
        })
    }

    /// Records a transient failure; returns the pause it started, if any.
    pub fn failed(&self, domain: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.with(domain, |s| {
            s.failures_in_a_row += 1;
            if s.failures_in_a_row < PAUSE_AFTER {
                return None;
            }
            s.failures_in_a_row = 0;
            let secs = (FIRST_PAUSE_SECONDS << s.pauses.min(10)).min(LONGEST_PAUSE_SECONDS);
            s.pauses += 1;
            let until = now + Duration::seconds(secs);
            s.paused_until = Some(until);
            Some(until)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn one_per_two_minutes_is_exact() {
        let mut b = Bucket::new(&Rate {
            messages: 1,
            per_seconds: 120,
            burst: None,
        });
        assert_eq!(b.take(t(0)), Ok(()));
        assert_eq!(b.take(t(0)), Err(t(120)));
        assert_eq!(b.take(t(119)), Err(t(120)));
        assert_eq!(b.take(t(120)), Ok(()));
        assert_eq!(b.take(t(120)), Err(t(240)));
    }

    #[test]
    fn burst_then_steady() {
        let mut b = Bucket::new(&Rate {
            messages: 10,
            per_seconds: 1,
            burst: Some(3),
        });
        let mut sent = 0;
        for _ in 0..10 {
            if b.take(t(0)).is_ok() {
                sent += 1;
            }
        }
        assert_eq!(sent, 3, "the burst");
        // Over the next second exactly 10 more conform.
        let mut later = 0;
        for ms in 1..=1000 {
            let now = t(0) + Duration::milliseconds(ms);
            while b.take(now).is_ok() {
                later += 1;
            }
        }
        assert_eq!(later, 10);
    }

    #[test]
    fn deferrals_are_spread_one_interval_apart() {
        let mut b = Bucket::new(&Rate {
            messages: 1,
            per_seconds: 10,
            burst: None,
        });
        assert_eq!(b.defer(t(10)), t(10));
        assert_eq!(b.defer(t(10)), t(20));
        assert_eq!(b.defer(t(10)), t(30));
        // Long after: starts again from the earliest time.
        assert_eq!(b.defer(t(100)), t(100));
    }

    #[test]
    fn a_domain_that_keeps_failing_is_paused_longer_each_time() {
        let d = Domains::new(4);
        for _ in 0..4 {
            assert_eq!(d.failed("broken.example", t(0)), None);
        }
        assert_eq!(d.failed("broken.example", t(0)), Some(t(30)));
        assert_eq!(d.paused(t(1)), vec!["broken.example".to_string()]);
        assert_eq!(d.paused_until("healthy.example", t(1)), None);
        for _ in 0..4 {
            d.failed("broken.example", t(31));
        }
        assert_eq!(d.failed("broken.example", t(31)), Some(t(91)));
        d.succeeded("broken.example");
        assert!(d.paused(t(32)).is_empty());
    }
}
