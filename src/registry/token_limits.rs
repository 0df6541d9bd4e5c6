//! The bounds on tokens: how many a user makes per minute, how many live access tokens (bot
//! users) one project or group holds, and how far ahead an access token may expire.

use std::time::{Duration, Instant};

use crate::auth::Caller;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::throttle::{FailureThrottle, Subject};

/// The token settings of a running server, with the per-user count of tokens made.
#[derive(Debug)]
pub struct TokenLimits {
    per_place: u32,
    lifetime_days: u32,
    per_minute: u32,
    made: FailureThrottle,
}

impl TokenLimits {
    pub fn new(config: &Config) -> TokenLimits {
        let per_minute = config.max_token_creations_per_minute;
        TokenLimits {
            per_place: config.max_access_tokens_per_place,
            lifetime_days: config.max_access_token_lifetime_days.max(1),
            per_minute,
            made: FailureThrottle::new(per_minute, Duration::from_secs(60)),
        }
    }

    /// The defaults, for the command line (which the per-minute count never limits).
    pub fn defaults() -> TokenLimits {
        TokenLimits::new(&Config::for_data_dir(std::path::PathBuf::new()))
    }

    /// Counts one token the caller makes (a new one or a rotation): each is a row, and each
    /// access token a bot user, that later lookups walk past, so one user cannot make them
    /// by the thousand. Past the quota: 429 with Retry-After. The operator owns the data
    /// directory and is not counted.
    pub fn count_made(&self, caller: &Caller) -> Result<()> {
        let Caller::User(user) = caller else {
            return Ok(());
        };
        self.made
            .take(&Subject::TokenMaker(user.user_id), Instant::now())
            .map_err(|wait| {
                Error::RateLimited(
                    format!(
                        "429 Too Many Requests: at most {} tokens a minute may be made by one \
                         user (max_token_creations_per_minute); try again in {} s",
                        self.per_minute,
                        wait.as_secs()
                    ),
                    wait.as_secs(),
                )
            })
    }

    /// Live access tokens one project or group may hold (0: no limit).
    pub fn per_place(&self) -> u32 {
        self.per_place
    }

    /// Days ahead an access token may expire at most.
    pub fn lifetime_days(&self) -> u32 {
        self.lifetime_days
    }
}
