//! Validation the provisioning services share (paths, usernames, expiry dates, upstream
//! addresses). Every operation itself lives in its service (`users`, `tokens`, `structure`,
//! `membership`, `deploy_tokens`, `upstreams`), behind the permission table: there is no
//! unchecked door here.

use super::upstreams::MAX_CACHE_HOURS;
use crate::error::{Error, Result};

const MAX_CREDENTIAL_LEN: usize = 255;
const MAX_URL_LEN: usize = 2000;

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

/// Top-level paths the server's own pages and APIs answer (`/groups/new`, `/admin/users`,
/// `/api/v4/…`): a top-level group by such a name would have pages no one can reach. GitLab
/// reserves these too.
const RESERVED_TOP_LEVEL: &[&str] = &[
    "_",
    "admin",
    "api",
    "dashboard",
    "explore",
    "groups",
    "help",
    "projects",
    "search",
    "users",
];

/// A top-level group's path: a valid segment that no page of the server's own answers. Every
/// way a group comes to the top level (created there, transferred there) checks this.
pub(crate) fn check_top_level_path(segment: &str) -> Result<()> {
    check_segment(segment, "group path")?;
    if RESERVED_TOP_LEVEL.contains(&segment.to_ascii_lowercase().as_str()) {
        return Err(Error::bad_request(format!(
            "400 Bad request - \"{segment}\" is reserved for the server's own pages: choose \
             another group path"
        )));
    }
    Ok(())
}

/// A display name (of a user, group or project): GitLab allows spaces, parentheses and any
/// letter; not empty, not past 255 characters, no control characters.
pub(crate) fn check_name(name: &str, what: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(Error::bad_request(format!(
            "400 Bad request - the {what} name must be 1 to 255 characters without control \
             characters"
        )));
    }
    Ok(())
}

/// A group's or project's display name as GitLab allows one: letters, digits, emoji, `_`,
/// `.`, `-`, `+`, spaces and parentheses, starting with a letter, digit, emoji or `_`. No `/`:
/// a name like `acme/evil` would pass for a place inside someone else's group.
pub(crate) fn check_place_name(name: &str, what: &str) -> Result<()> {
    check_name(name, what)?;
    let emoji = |c: char| matches!(c as u32, 0x1F300..=0x1FAFF | 0x2600..=0x27BF);
    let letter = |c: char| c.is_alphanumeric() || c == '_' || emoji(c);
    let name = name.trim();
    let chars_ok = name
        .chars()
        .all(|c| letter(c) || matches!(c, '.' | '-' | '+' | ' ' | '(' | ')'));
    if !chars_ok || !name.starts_with(letter) {
        return Err(Error::bad_request(format!(
            "400 Bad request - the {what} name \"{name}\" may hold only letters, digits, emoji, \
             '_', '.', '-', '+', spaces and parentheses, starting with a letter, digit or '_'"
        )));
    }
    Ok(())
}

/// A description: up to 2,000 characters (GitLab's limit), line breaks allowed.
pub(crate) fn check_description(text: &str) -> Result<()> {
    let control = text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'));
    if text.chars().count() > 2000 || control {
        return Err(Error::bad_request(
            "400 Bad request - the description must be at most 2000 characters, without \
             control characters other than line breaks and tabs",
        ));
    }
    Ok(())
}

/// Expiry dates must be real dates in the future (a token that expires today never works).
pub(crate) fn check_expiry(expires_on: Option<&str>) -> Result<()> {
    let Some(date) = expires_on else {
        return Ok(());
    };
    check_date(date)?;
    if date <= crate::auth::today().as_str() {
        return Err(Error::bad_request(format!(
            "the expiry date {date} is not in the future"
        )));
    }
    Ok(())
}

/// A real date of the form YYYY-MM-DD.
pub(crate) fn check_date(date: &str) -> Result<()> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(date, &format).map_err(|_| {
        Error::bad_request(format!("\"{date}\" is not a date of the form YYYY-MM-DD"))
    })?;
    Ok(())
}

/// A deploy token's username as GitLab allows one: letters, digits, `_`, `-`, `+` and `.`.
pub(crate) fn check_deploy_username(username: &str) -> Result<()> {
    let chars_ok = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '.'));
    if username.is_empty() || username.len() > MAX_CREDENTIAL_LEN || !chars_ok {
        return Err(Error::bad_request(format!(
            "400 Bad request - the username \"{username}\" may hold only letters, digits, '_', \
             '-', '+' and '.' (at most {MAX_CREDENTIAL_LEN})"
        )));
    }
    Ok(())
}

/// An upstream's address: an http or https URL of a simple index, ending in `/` (so that
/// `NAME/` resolves below it). Credentials in it are refused rather than stored where every
/// listing would show them; messages never repeat the URL, which might hold a password.
pub(crate) fn check_url(raw: &str) -> Result<String> {
    let raw = raw.trim();
    let bad = |why: &str| Error::bad_request(format!("400 Bad request - the upstream URL {why}"));
    if raw.is_empty() {
        return Err(bad(
            "is missing: give a simple index, such as https://pypi.org/simple/",
        ));
    }
    if raw.len() > MAX_URL_LEN {
        return Err(bad(&format!("is longer than {MAX_URL_LEN} characters")));
    }
    let url = url::Url::parse(raw).map_err(|e| {
        bad(&format!(
            "is not a valid URL ({e}): give a simple index, such as https://pypi.org/simple/"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(&format!(
            "must use http or https, not {}",
            url.scheme().chars().take(20).collect::<String>()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "must not hold credentials (user:password@): give them in the username and \
             password fields",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if url.query().is_some() {
        return Err(bad("must not have a query (?…)"));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment (#…)"));
    }
    let mut normalized = url.to_string();
    if !normalized.ends_with('/') {
        normalized.push('/');
    }
    Ok(normalized)
}

/// Both a username and a password, or neither (empty counts as not given).
pub(crate) fn check_credentials(
    username: Option<&str>,
    password: Option<&str>,
) -> Result<(Option<String>, Option<String>)> {
    fn given(v: Option<&str>) -> Option<&str> {
        v.filter(|v| !v.is_empty())
    }
    match (given(username), given(password)) {
        (None, None) => Ok((None, None)),
        (Some(username), Some(password)) => {
            if username.len() > MAX_CREDENTIAL_LEN || password.len() > MAX_CREDENTIAL_LEN {
                return Err(Error::bad_request(format!(
                    "400 Bad request - the upstream's username and password have at most \
                     {MAX_CREDENTIAL_LEN} characters each"
                )));
            }
            // HTTP Basic cannot carry a ':' in the user name, nor line breaks anywhere.
            if username.contains(':') || username.chars().any(char::is_control) {
                return Err(Error::bad_request(
                    "400 Bad request - the upstream's username must not contain ':' or control \
                     characters",
                ));
            }
            if password.chars().any(char::is_control) {
                return Err(Error::bad_request(
                    "400 Bad request - the upstream's password must not contain control \
                     characters",
                ));
            }
            Ok((Some(username.to_owned()), Some(password.to_owned())))
        }
        _ => Err(Error::bad_request(
            "400 Bad request - give the upstream both a username and a password, or neither",
        )),
    }
}

pub(crate) fn check_cache_hours(hours: i64) -> Result<i64> {
    if (0..=MAX_CACHE_HOURS).contains(&hours) {
        Ok(hours)
    } else {
        Err(Error::bad_request(format!(
            "400 Bad request - the cache validity is 0 to {MAX_CACHE_HOURS} hours"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_groups_never_take_the_servers_own_paths() {
        for reserved in [
            "groups", "Projects", "api", "admin", "users", "explore", "_",
        ] {
            assert!(check_top_level_path(reserved).is_err(), "{reserved}");
        }
        for fine in ["acme", "groups2", "my-projects", "api_team"] {
            check_top_level_path(fine).unwrap();
        }
    }

    #[test]
    fn place_names_follow_gitlab() {
        for good in [
            "My Project",
            "Acme (EU)",
            "ünïcode_2",
            "_x",
            "a.b-c+d",
            "🚀 rockets",
        ] {
            assert!(check_place_name(good, "group").is_ok(), "{good}");
        }
        for bad in [
            "acme/evil",
            "",
            "  ",
            "-dash",
            "(x)",
            "a\u{7}b",
            "tab\tname",
            "a∕b",
        ] {
            assert!(check_place_name(bad, "group").is_err(), "{bad:?}");
        }
        assert!(check_name("Ann O'Neil / Ops", "user").is_ok());
        assert!(check_description(&"d".repeat(2001)).is_err());
        assert!(check_description("two\nlines").is_ok());
    }

    #[test]
    fn deploy_usernames_follow_gitlab() {
        assert!(check_deploy_username("gitlab+deploy-token-1").is_ok());
        assert!(check_deploy_username("bar baz").is_err());
        assert!(check_deploy_username("").is_err());
    }

    #[test]
    fn urls_are_http_without_credentials_query_or_fragment() {
        assert_eq!(
            check_url("https://pypi.org/simple").unwrap(),
            "https://pypi.org/simple/"
        );
        assert_eq!(
            check_url(" http://127.0.0.1:8080/root/pypi/+simple/ ").unwrap(),
            "http://127.0.0.1:8080/root/pypi/+simple/"
        );
        assert_eq!(
            check_url("HTTP://Example.COM").unwrap(),
            "http://example.com/"
        );
        for (bad, says) in [
            ("", "missing"),
            ("ftp://example.com/simple/", "http or https"),
            ("file:///etc/passwd", "http or https"),
            (
                "https://user:secret@example.com/simple/",
                "username and password",
            ),
            ("https://user@example.com/simple/", "username and password"),
            ("https://example.com/simple/?x=1", "query"),
            ("https://example.com/simple/#top", "fragment"),
            ("not a url", "not a valid URL"),
            ("https://", "not a valid URL"),
        ] {
            let message = check_url(bad).unwrap_err().to_string();
            assert!(message.contains(says), "{bad}: {message}");
            assert!(!message.contains("secret"), "{message}");
        }
    }

    #[test]
    fn credentials_come_in_pairs_and_hours_in_range() {
        assert_eq!(check_credentials(None, None).unwrap(), (None, None));
        assert_eq!(check_credentials(Some(""), Some("")).unwrap(), (None, None));
        assert!(check_credentials(Some("u"), Some("p")).unwrap().0.is_some());
        assert!(check_credentials(Some("u"), None).is_err());
        assert!(check_credentials(None, Some("p")).is_err());
        assert!(check_credentials(Some("a:b"), Some("p")).is_err());
        assert!(check_credentials(Some(&"u".repeat(256)), Some("p")).is_err());
        assert!(check_cache_hours(0).is_ok());
        assert!(check_cache_hours(8760).is_ok());
        assert!(check_cache_hours(8761).is_err());
        assert!(check_cache_hours(-1).is_err());
    }
}
