//! Device cookies (OWASP's answer to lockout abuse): proof that a browser once signed in as an
//! account, so that account's throttle, which strangers can trip, does not shut its owner out.

use actix_web::cookie::{Cookie, SameSite};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The cookie's name.
pub const COOKIE: &str = "wh_device";
/// How long a device stays known after its last sign-in.
pub const DAYS: i64 = 365;
const LIFETIME_MILLIS: i64 = DAYS * 86_400_000;
/// Clocks drift; a token issued a little "in the future" is still one this server made.
const SKEW_MILLIS: i64 = 5 * 60_000;
/// Longer than any token this server makes (`id.millis.` and 64 hex digits), so parsing a
/// hostile cookie costs nothing.
const MAX_LEN: usize = 128;
/// Separates this use of the key from any other.
const LABEL: &[u8] = b"wheelhouse device v1\0";

/// A device cookie as presented, not yet checked against an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceToken {
    pub user_id: i64,
    issued_millis: i64,
    mac: Vec<u8>,
}

/// The MAC keyed with the account's current password hash: only the server has it, and a
/// password change (a new hash, new salt) revokes every device cookie of the account.
fn mac(password_hash: &str, user_id: i64, issued_millis: i64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(password_hash.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(LABEL);
    mac.update(format!("{user_id}\0{issued_millis}").as_bytes());
    mac
}

/// The cookie value for `user_id`, issued at `now_millis`.
pub fn make(user_id: i64, password_hash: &str, now_millis: i64) -> String {
    let tag = mac(password_hash, user_id, now_millis)
        .finalize()
        .into_bytes();
    format!("{user_id}.{now_millis}.{}", hex::encode(tag))
}

/// The cookie carrying `value`: renewed at every sign-in, sent only to the sign-in form, Secure
/// exactly when the session cookie is.
pub fn cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/users/sign_in")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::days(DAYS))
        .finish()
}

impl DeviceToken {
    /// Reads a cookie value; anything malformed or oversized is simply no token.
    pub fn parse(value: &str) -> Option<DeviceToken> {
        if value.len() > MAX_LEN {
            return None;
        }
        let mut parts = value.split('.');
        let (id, issued, tag) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || tag.len() != 64 {
            return None;
        }
        Some(DeviceToken {
            user_id: id.parse().ok()?,
            issued_millis: issued.parse().ok()?,
            mac: hex::decode(tag).ok()?,
        })
    }

    /// Whether this token was made for `user_id` under `password_hash` within the last year
    /// (compared in constant time).
    pub fn is_valid_for(&self, user_id: i64, password_hash: &str, now_millis: i64) -> bool {
        self.user_id == user_id
            && self.issued_millis <= now_millis + SKEW_MILLIS
            && now_millis - self.issued_millis <= LIFETIME_MILLIS
            && mac(password_hash, user_id, self.issued_millis)
                .verify_slice(&self.mac)
                .is_ok()
    }

    /// What the throttle counts this device's own failures by (its MAC, unique per token).
    pub fn key(&self) -> String {
        hex::encode(&self.mac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_token_proves_its_account_until_the_password_changes_or_a_year_passes() {
        let value = make(7, HASH, NOW);
        let token = DeviceToken::parse(&value).unwrap();
        assert_eq!(token.user_id, 7);
        assert!(token.is_valid_for(7, HASH, NOW));
        assert!(token.is_valid_for(7, HASH, NOW + LIFETIME_MILLIS));
        assert!(
            !token.is_valid_for(7, HASH, NOW + LIFETIME_MILLIS + 1),
            "expired"
        );
        assert!(
            !token.is_valid_for(7, HASH, NOW - SKEW_MILLIS - 1),
            "from the future"
        );
        assert!(!token.is_valid_for(8, HASH, NOW), "another account");
        assert!(
            !token.is_valid_for(7, "$argon2id$new", NOW),
            "a changed password"
        );
    }

    #[test]
    fn forged_and_malformed_tokens_are_not_valid() {
        let value = make(7, HASH, NOW);
        // Another account's id (or time) under the same MAC does not verify.
        let moved = value.replacen("7.", "8.", 1);
        assert!(
            !DeviceToken::parse(&moved)
                .unwrap()
                .is_valid_for(8, HASH, NOW)
        );
        let mut flipped = value.clone();
        let last = if flipped.ends_with('0') { "1" } else { "0" };
        flipped.replace_range(flipped.len() - 1.., last);
        assert!(
            !DeviceToken::parse(&flipped)
                .unwrap()
                .is_valid_for(7, HASH, NOW)
        );
        let made_elsewhere = make(7, "another server's hash", NOW);
        assert!(
            !DeviceToken::parse(&made_elsewhere)
                .unwrap()
                .is_valid_for(7, HASH, NOW)
        );
        for bad in [
            "",
            "7",
            "7.1",
            "x.1.00",
            "7.1.zz",
            &format!("{value}.1"),
            &format!("7.1.{}", "0".repeat(62)),
            &format!("7.1.{}", "g".repeat(64)),
            &"7".repeat(MAX_LEN + 1),
        ] {
            assert_eq!(DeviceToken::parse(bad), None, "{bad:?}");
        }
    }
}
