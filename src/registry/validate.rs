//! Validation the provisioning services share (paths, usernames, expiry dates). Every
//! operation itself lives in its service (`users`, `tokens`, `structure`, `membership`,
//! `deploy_tokens`), behind the permission table: there is no unchecked door here.

use crate::error::{Error, Result};

/// A path segment as GitLab allows it: letters, digits, `_`, `-`, `.`, not starting with `-` or
/// `.`, not all digits (a number names an id in the API).
pub(crate) fn check_segment(segment: &str, what: &str) -> Result<()> {
    let first_ok = segment.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    let chars_ok = segment
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let all_digits = segment.chars().all(|c| c.is_ascii_digit());
    if segment.is_empty()
        || segment.len() > 100
        || !first_ok
        || !chars_ok
        || all_digits
        || segment.ends_with('.')
    {
        return Err(Error::bad_request(format!(
            "\"{segment}\" is not a valid {what}: use letters, digits, '_', '-' and '.', \
             starting with a letter, digit or '_'"
        )));
    }
    Ok(())
}

/// Expiry dates must be real dates in the future (a token that expires today never works).
pub(crate) fn check_expiry(expires_on: Option<&str>) -> Result<()> {
    let Some(date) = expires_on else {
        return Ok(());
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(date, &format).map_err(|_| {
        Error::bad_request(format!("\"{date}\" is not a date of the form YYYY-MM-DD"))
    })?;
    if date <= crate::auth::today().as_str() {
        return Err(Error::bad_request(format!(
            "the expiry date {date} is not in the future"
        )));
    }
    Ok(())
}
