//! Slowing down credential guessing without ever refusing valid credentials: failures are
//! counted per client address (an IPv6 client by its /64, which one host usually owns whole)
//! and, for passwords, per account and per device cookie; only a request whose credentials
//! failed, or a password sign-in to an account under attack from a browser that never signed
//! in to it, is refused with 429 and Retry-After.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Subjects remembered at most; older windows are dropped first when it fills.
const MAX_TRACKED: usize = 10_000;

/// What failures are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A client address; IPv6 by its /64.
    Address(IpAddr),
    /// Failed passwords for one username (case-insensitive, known or not).
    Account(String),
    /// Failed passwords presented with one valid device cookie (`devices::DeviceToken::key`),
    /// which is what still may try while its account is over the limit.
    Device(String),
    /// Tokens one user made (personal, project and group ones, rotations too): each adds a
    /// row, and each access token a bot user, that every later lookup walks past.
    TokenMaker(i64),
}

impl Subject {
    pub fn address(addr: IpAddr) -> Subject {
        let addr = crate::proxy::canonical(addr);
        Subject::Address(match addr {
            IpAddr::V4(_) => addr,
            IpAddr::V6(_) => crate::proxy::mask(addr, 64),
        })
    }

    pub fn account(username: &str) -> Subject {
        Subject::Account(username.trim().to_lowercase())
    }

    pub fn device(token: &crate::devices::DeviceToken) -> Subject {
        Subject::Device(token.key())
    }
}

#[derive(Debug)]
struct Window {
    started: Instant,
    failures: u32,
}

#[derive(Debug)]
pub struct FailureThrottle {
    windows: Mutex<HashMap<Subject, Window>>,
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

    /// `Err(wait)` while the subject has used up its failures for the current window.
    /// A limit of 0 turns throttling off.
    pub fn check(&self, subject: &Subject, now: Instant) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get(subject) {
            Some(w) if w.failures >= self.max_failures && now < w.started + self.window => {
                crate::metrics::metrics().throttle_refusal();
                Err((w.started + self.window)
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1)))
            }
            _ => Ok(()),
        }
    }

    /// The subject's window as of `now` (a new one once the last has run out), making room
    /// first when too many subjects are tracked.
    fn current_window<'a>(
        &self,
        windows: &'a mut HashMap<Subject, Window>,
        subject: &Subject,
        now: Instant,
    ) -> &'a mut Window {
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, w| now < w.started + self.window);
        }
        let window = windows.entry(subject.clone()).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= window.started + self.window {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window
    }

    /// Counts one action of a rate-limited kind (the throttle used as a per-window quota):
    /// `Err(wait)` once the subject has used up this window's allowance, and then the action
    /// is not counted. Check and count under one lock, so parallel requests cannot overrun it.
    pub fn take(&self, subject: &Subject, now: Instant) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let window = self.current_window(&mut windows, subject, now);
        if window.failures >= self.max_failures {
            return Err((window.started + self.window)
                .saturating_duration_since(now)
                .max(Duration::from_secs(1)));
        }
        window.failures += 1;
        Ok(())
    }

    pub fn record_failure(&self, subject: &Subject, now: Instant) {
        if self.max_failures == 0 {
            return;
        }
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let window = self.current_window(&mut windows, subject, now);
        window.failures = window.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_one_subject_for_the_rest_of_its_window() {
        let throttle = FailureThrottle::new(3, Duration::from_secs(60));
        let bad = Subject::address("10.0.0.1".parse().unwrap());
        let good = Subject::address("10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(throttle.check(&bad, t0).is_ok());
            throttle.record_failure(&bad, t0);
        }
        let wait = throttle
            .check(&bad, t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(
            throttle.check(&good, t0).is_ok(),
            "others are not locked out"
        );
        assert!(
            throttle.check(&Subject::account("alice"), t0).is_ok(),
            "accounts count apart from addresses"
        );
        assert!(
            throttle.check(&bad, t0 + Duration::from_secs(61)).is_ok(),
            "the window ends"
        );
        throttle.record_failure(&bad, t0 + Duration::from_secs(61));
        assert!(
            throttle.check(&bad, t0 + Duration::from_secs(62)).is_ok(),
            "a new window starts"
        );
    }

    #[test]
    fn a_quota_counts_what_it_allows_and_refuses_the_rest_of_the_window() {
        let quota = FailureThrottle::new(2, Duration::from_secs(60));
        let (alice, bob) = (Subject::TokenMaker(1), Subject::TokenMaker(2));
        let t0 = Instant::now();
        assert!(quota.take(&alice, t0).is_ok());
        assert!(quota.take(&alice, t0).is_ok());
        let wait = quota
            .take(&alice, t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(quota.take(&bob, t0).is_ok(), "each user has their own");
        assert!(quota.take(&alice, t0 + Duration::from_secs(60)).is_ok());
        let off = FailureThrottle::new(0, WINDOW);
        for _ in 0..10 {
            assert!(off.take(&alice, t0).is_ok(), "0 turns the quota off");
        }
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_and_accounts_by_name() {
        let one = |text: &str| Subject::address(text.parse().unwrap());
        assert_eq!(
            one("2001:db8:1:2::1"),
            one("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(one("2001:db8:1:2::1"), one("2001:db8:1:3::1"));
        assert_eq!(one("::ffff:10.0.0.1"), one("10.0.0.1"));
        assert_ne!(
            one("10.0.0.1"),
            one("10.0.0.2"),
            "IPv4 by the whole address"
        );
        assert_eq!(Subject::account(" Alice"), Subject::account("alice"));
        let throttle = FailureThrottle::new(1, WINDOW);
        let t0 = Instant::now();
        throttle.record_failure(&one("2001:db8::1"), t0);
        assert!(throttle.check(&one("2001:db8::abcd"), t0).is_err());
        assert!(throttle.check(&one("2001:db8:0:1::1"), t0).is_ok());
    }
}
