//! PEP 440 versions: parsing, the normal form, and ordering.

use crate::error::{Error, Result};
use std::cmp::Ordering;
use std::str::FromStr;

use super::name::truncate_for_message;

/// A valid PEP 440 version. Equality and order follow PEP 440 (`1.0 == 1.0.0`).
#[derive(Debug, Clone)]
pub struct Version(pep440_rs::Version);

impl Version {
    pub fn parse(raw: &str) -> Result<Self> {
        let raw = raw.trim();
        pep440_rs::Version::from_str(raw).map(Version).map_err(|_| {
            Error::bad_request(format!(
                "\"{}\" is not a valid PEP 440 version",
                truncate_for_message(raw)
            ))
        })
    }

    /// A pre-release or development release (`1.0a1`, `1.0.dev0`).
    pub fn is_prerelease(&self) -> bool {
        self.0.any_prerelease()
    }

    /// The normal form (`1.0.0-RC1` becomes `1.0.0rc1`), used as the stored key of a version.
    pub fn normalized(&self) -> String {
        self.0.to_string()
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

/// Orders stored version strings by PEP 440; strings that do not parse (none should) sort first.
pub fn compare_strs(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        (Err(_), Ok(_)) => Ordering::Less,
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// The distinct versions of items already in PEP 440 order, in that order.
pub fn distinct_in_order<'a>(sorted: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    for version in sorted {
        if versions.last().map(String::as_str) != Some(version) {
            versions.push(version.to_string());
        }
    }
    versions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_compares() {
        assert_eq!(
            Version::parse("1.0.0-RC1").unwrap().normalized(),
            "1.0.0rc1"
        );
        assert_eq!(
            Version::parse("1.0").unwrap(),
            Version::parse("1.0.0").unwrap()
        );
        assert!(Version::parse("1.0a1").unwrap() < Version::parse("1.0").unwrap());
        assert!(Version::parse("1.10").unwrap() > Version::parse("1.9").unwrap());
        assert_eq!(compare_strs("2.0", "10.0"), Ordering::Less);
    }

    #[test]
    fn rejects_garbage() {
        for raw in ["", "abc", "1.0/../x", "1.0 beta"] {
            assert!(Version::parse(raw).is_err(), "{raw:?}");
        }
    }
}
