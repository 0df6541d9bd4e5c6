//! The name rules of a group's upstreams: `*` patterns over PEP 503 names that reserve, deny
//! or allow names, and the one decision they make about a name.

use crate::db::upstreams::{Rule, RuleKind};
use crate::error::{Error, Result};

/// Longer patterns name no real package; the bound keeps rows and matching small.
const MAX_PATTERN_LEN: usize = 100;

/// A pattern as it is stored and matched: normalized like names (PEP 503: lower case, every
/// run of `-`, `_` and `.` one `-`), runs of `*` one `*`, then only `a-z`, `0-9`, `-` and `*`.
pub fn normalize_pattern(raw: &str) -> Result<String> {
    let raw = raw.trim();
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = match c {
            '-' | '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        };
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '*')) {
            return Err(Error::bad_request(format!(
                "400 Bad request - the pattern \"{}\" has the character {c:?}: a pattern takes \
                 letters, digits, '-', '_', '.' and '*' (any run of characters)",
                shorten(raw)
            )));
        }
        // `--` and `**` mean what `-` and `*` mean: one spelling keeps duplicates out.
        if matches!(c, '-' | '*') && out.ends_with(c) {
            continue;
        }
        out.push(c);
    }
    if out.is_empty() || out.len() > MAX_PATTERN_LEN {
        return Err(Error::bad_request(format!(
            "400 Bad request - a pattern has 1 to {MAX_PATTERN_LEN} characters, such as \
             \"acme-*\", \"*-internal\" or \"acme\""
        )));
    }
    Ok(out)
}

fn shorten(text: &str) -> String {
    text.chars().take(60).collect()
}

/// Whether a normalized name matches a normalized pattern, where `*` stands for any run of
/// characters (none included). Linear in the name: the parts between stars are found left to
/// right, each by `str::find` (a two-way search), never backtracking over what matched, which
/// is enough because `*` is the only wildcard.
pub fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let Some(mut last) = parts.next() else {
        // No star: the whole name.
        return rest.is_empty();
    };
    for next in parts {
        // `last` sits between two stars: its leftmost match leaves the most for the rest.
        match rest.find(last) {
            Some(at) => rest = &rest[at + last.len()..],
            None => return false,
        }
        last = next;
    }
    rest.ends_with(last)
}

/// What the rules say about one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameDecision {
    /// A `reserve` pattern matches: the group's own, never looked up upstream.
    Reserved,
    /// A `deny` pattern matches: never looked up upstream.
    Denied,
    /// Allow patterns exist and none matches.
    NotAllowed,
    /// The upstreams may be asked.
    Upstream,
}

/// A group's rules, ready to decide names. (Names the group publishes or has published are
/// guarded separately, by `published_names`.)
#[derive(Debug, Clone, Default)]
pub struct NameRules {
    reserve: Vec<String>,
    deny: Vec<String>,
    allow: Vec<String>,
}

impl NameRules {
    pub fn new(rules: Vec<Rule>) -> NameRules {
        let mut out = NameRules::default();
        for rule in rules {
            match rule.kind {
                RuleKind::Reserve => out.reserve.push(rule.pattern),
                RuleKind::Deny => out.deny.push(rule.pattern),
                RuleKind::Allow => out.allow.push(rule.pattern),
            }
        }
        out
    }

    /// Reserve and deny win over allow: a name that any of them matches never goes upstream,
    /// whatever an allow pattern says.
    pub fn decide(&self, normalized_name: &str) -> NameDecision {
        let any = |patterns: &[String]| patterns.iter().any(|p| matches(p, normalized_name));
        if any(&self.reserve) {
            NameDecision::Reserved
        } else if any(&self.deny) {
            NameDecision::Denied
        } else if !self.allow.is_empty() && !any(&self.allow) {
            NameDecision::NotAllowed
        } else {
            NameDecision::Upstream
        }
    }
}

impl From<Vec<Rule>> for NameRules {
    fn from(rules: Vec<Rule>) -> NameRules {
        NameRules::new(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: RuleKind, pattern: &str) -> Rule {
        Rule {
            id: 0,
            group_id: 1,
            kind,
            pattern: pattern.to_owned(),
            created_at: 0,
        }
    }

    #[test]
    fn patterns_normalize_like_names() {
        assert_eq!(normalize_pattern("Acme_*").unwrap(), "acme-*");
        assert_eq!(normalize_pattern(" ACME..Tools ").unwrap(), "acme-tools");
        assert_eq!(normalize_pattern("*__Internal").unwrap(), "*-internal");
        assert_eq!(normalize_pattern("a***b").unwrap(), "a*b");
        assert_eq!(normalize_pattern("*").unwrap(), "*");
        for bad in ["", "  ", "acme/*", "ac me", "acme?", "é", "a[b]"] {
            let err = normalize_pattern(bad).unwrap_err();
            assert!(matches!(err, Error::BadRequest(_)), "{bad}: {err:?}");
        }
        assert!(normalize_pattern(&"a".repeat(100)).is_ok());
        assert!(normalize_pattern(&"a".repeat(101)).is_err());
        let message = normalize_pattern("acme/x").unwrap_err().to_string();
        assert!(message.contains("'/'"), "{message}");
    }

    #[test]
    fn stars_match_any_run_of_characters() {
        assert!(matches("acme", "acme"));
        assert!(!matches("acme", "acme-x"));
        assert!(!matches("acme", "acm"));
        assert!(matches("acme-*", "acme-tools"));
        assert!(matches("acme-*", "acme-"));
        assert!(!matches("acme-*", "acme"));
        assert!(!matches("acme-*", "xacme-tools"));
        assert!(matches("*-internal", "acme-internal"));
        assert!(!matches("*-internal", "acme-internal-x"));
        assert!(matches("*", "anything"));
        assert!(matches("a*b*c", "abc"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxcyyb"));
        assert!(matches("*ab*ab*", "xabyab"));
        assert!(!matches("*ab*ab*", "xaby"));
        // The suffix may not reuse what a middle part took.
        assert!(!matches("a*bc*cd", "abcd"));
        assert!(matches("a*b*b", "abb"));
        assert!(!matches("a*b*b", "ab"));
    }

    #[test]
    fn hostile_patterns_stay_fast() {
        let name = "a".repeat(10_000);
        let pattern = format!("{}b", "a*".repeat(50));
        let started = std::time::Instant::now();
        assert!(!matches(&pattern, &name));
        assert!(matches(&"a*".repeat(50), &name));
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
    }

    #[test]
    fn reserve_and_deny_win_and_allow_limits() {
        let none = NameRules::new(Vec::new());
        assert_eq!(none.decide("requests"), NameDecision::Upstream);
        let rules = NameRules::new(vec![
            rule(RuleKind::Reserve, "acme-*"),
            rule(RuleKind::Deny, "evil*"),
            rule(RuleKind::Allow, "*"),
            rule(RuleKind::Allow, "acme-tools"),
        ]);
        assert_eq!(rules.decide("acme-tools"), NameDecision::Reserved);
        assert_eq!(rules.decide("evil-pkg"), NameDecision::Denied);
        assert_eq!(rules.decide("requests"), NameDecision::Upstream);
        let allow = NameRules::from(vec![
            rule(RuleKind::Allow, "numpy"),
            rule(RuleKind::Allow, "django-*"),
        ]);
        assert_eq!(allow.decide("numpy"), NameDecision::Upstream);
        assert_eq!(allow.decide("django-rest"), NameDecision::Upstream);
        assert_eq!(allow.decide("requests"), NameDecision::NotAllowed);
    }
}
