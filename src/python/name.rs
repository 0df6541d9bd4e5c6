//! Distribution names: validation (PEP 508) and normalization (PEP 503).

use crate::error::{Error, Result};

/// A valid distribution name, keeping the spelling it was given beside its PEP 503 normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistName {
    display: String,
    normalized: String,
}

/// Longer names are not a real package; the bound keeps rows and paths small.
const MAX_NAME_LEN: usize = 200;

impl DistName {
    /// Accepts names of the form core metadata allows: ASCII letters and digits, with `.`, `_`
    /// and `-` inside but not at either end.
    pub fn parse(raw: &str) -> Result<Self> {
        let raw = raw.trim();
        let bytes = raw.as_bytes();
        let ok_inner = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
        let valid = !bytes.is_empty()
            && bytes.len() <= MAX_NAME_LEN
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes.iter().all(ok_inner);
        if !valid {
            return Err(Error::bad_request(format!(
                "\"{}\" is not a valid distribution name",
                truncate_for_message(raw)
            )));
        }
        Ok(DistName {
            display: raw.to_string(),
            normalized: normalize(raw),
        })
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

/// PEP 503: lower case, and every run of `-`, `_` and `.` becomes one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                out.push('-');
            }
            in_separator_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator_run = false;
        }
    }
    out
}

/// Keeps echoed user input in error messages short.
pub fn truncate_for_message(s: &str) -> String {
    const MAX: usize = 120;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_pep_503() {
        assert_eq!(normalize("My.Pkg_Name"), "my-pkg-name");
        assert_eq!(normalize("my--pkg__.name"), "my-pkg-name");
        assert_eq!(normalize("Django"), "django");
        assert_eq!(normalize("a-b"), "a-b");
    }

    #[test]
    fn accepts_valid_names() {
        for name in ["a", "A1", "my_pkg", "zope.interface", "Foo-Bar", "x_.-y"] {
            assert!(DistName::parse(name).is_ok(), "{name}");
        }
        let n = DistName::parse("My.Pkg").unwrap();
        assert_eq!(n.display(), "My.Pkg");
        assert_eq!(n.normalized(), "my-pkg");
    }

    #[test]
    fn rejects_invalid_names() {
        let long = "a".repeat(201);
        for name in [
            "",
            "-a",
            "a-",
            ".a",
            "a b",
            "a/b",
            "../x",
            "ä",
            "a\0b",
            long.as_str(),
        ] {
            assert!(DistName::parse(name).is_err(), "{name:?}");
        }
    }
}
