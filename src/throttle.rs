//! Slowing down credential guessing: too many failed credentials from one address within a
//! window earn that address a 429 with Retry-After, without locking out anyone else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; older windows are dropped first when it fills.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug)]
struct Window {
    started: Instant,
    failures: u32,
}

#[derive(Debug)]
pub struct FailureThrottle {
    windows: Mutex<HashMap<IpAddr, Window>>,
    max_failures: u32,
    window: Duration,
}

impl FailureThrottle {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        FailureThrottle {
            windows: Mutex::new(HashMap::new()),
            max_failures,
            window,
        }
    }

    /// `Err(wait)` while the address has used up its failures for the current window.
    /// A limit of 0 turns throttling off.
    pub fn check(&self, addr: IpAddr, now: Instant) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(&addr) {
            Some(w) if w.failures >= self.max_failures && now < w.started + self.window => {
                Err((w.started + self.window)
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1)))
            }
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, addr: IpAddr, now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, w| now < w.started + self.window);
        }
        let window = windows.entry(addr).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= window.started + self.window {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_one_address_for_the_rest_of_its_window() {
        let throttle = FailureThrottle::new(3, Duration::from_secs(60));
        let (bad, good): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(throttle.check(bad, t0).is_ok());
            throttle.record_failure(bad, t0);
        }
        let wait = throttle
            .check(bad, t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(
            throttle.check(good, t0).is_ok(),
            "others are not locked out"
        );
        assert!(
            throttle.check(bad, t0 + Duration::from_secs(61)).is_ok(),
            "the window ends"
        );
        throttle.record_failure(bad, t0 + Duration::from_secs(61));
        assert!(
            throttle.check(bad, t0 + Duration::from_secs(62)).is_ok(),
            "a new window starts"
        );
    }
}
