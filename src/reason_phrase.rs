//! Reason phrases for error status lines (`400 File already exists: …`), kept in bounded memory.
//!
//! twine, hatch and pdm print a refused upload's status line and never its body, so the public
//! index puts its explanation there; so does Wheelhouse. actix-web takes a reason phrase only
//! as `&'static str`, so each distinct phrase is leaked once and reused. To keep that bounded
//! whatever clients send, the first `MAX_FULL` distinct phrases are kept whole; past that a
//! message is shown with its quoted parts elided (`File already exists: "..." is stored …`),
//! of which there are only as many as the code has messages; past `MAX_TOTAL` the canonical
//! phrase (`Bad Request`) stands, and the JSON body still says everything.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use actix_web::http::StatusCode;

/// The longest phrase sent: status lines are read into bounded buffers by some clients.
pub const MAX_LEN: usize = 200;
const MAX_FULL: usize = 1024;
const MAX_TOTAL: usize = 1536;

/// The reason phrase for an error answered with `status` and `message`: only client errors
/// get one (a 5xx message says nothing the canonical phrase does not).
pub fn for_error(status: StatusCode, message: &str) -> Option<&'static str> {
    if !status.is_client_error() {
        return None;
    }
    let phrase = sanitize(status, message);
    if phrase.is_empty() || Some(phrase.as_str()) == status.canonical_reason() {
        return None;
    }
    static PHRASES: OnceLock<Mutex<Phrases>> = OnceLock::new();
    PHRASES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .keep(phrase)
}

/// The phrases leaked so far.
#[derive(Default)]
struct Phrases(HashSet<&'static str>);

impl Phrases {
    fn keep(&mut self, phrase: String) -> Option<&'static str> {
        if let Some(kept) = self.0.get(phrase.as_str()) {
            return Some(kept);
        }
        let phrase = if self.0.len() < MAX_FULL {
            phrase
        } else {
            let template = elide_quoted(&phrase);
            if let Some(kept) = self.0.get(template.as_str()) {
                return Some(kept);
            }
            if self.0.len() >= MAX_TOTAL {
                return None;
            }
            template
        };
        let kept: &'static str = Box::leak(phrase.into_boxed_str());
        self.0.insert(kept);
        Some(kept)
    }
}

/// One line of printable ASCII (RFC 9112 allows tabs, spaces and visible characters; anything
/// else is replaced), without a leading copy of the status code, at most `MAX_LEN` bytes.
fn sanitize(status: StatusCode, message: &str) -> String {
    let code = format!("{} ", status.as_u16());
    let message = message.strip_prefix(&code).unwrap_or(message).trim();
    let mut phrase = String::with_capacity(message.len().min(MAX_LEN));
    for c in message.chars() {
        let c = match c {
            ' '..='~' => c,
            '\t' | '\r' | '\n' => ' ',
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            _ => '?',
        };
        if c == ' ' && phrase.ends_with(' ') {
            continue;
        }
        if phrase.len() == MAX_LEN - 3 {
            phrase.push_str("...");
            break;
        }
        phrase.push(c);
    }
    phrase
}

/// The phrase with the text between each pair of double quotes replaced by `...`.
fn elide_quoted(phrase: &str) -> String {
    let mut out = String::with_capacity(phrase.len());
    for (i, part) in phrase.split('"').enumerate() {
        if i > 0 {
            out.push('"');
        }
        out.push_str(if i % 2 == 1 { "..." } else { part });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_of_printable_ascii_without_the_status_code() {
        let s = StatusCode::BAD_REQUEST;
        assert_eq!(
            sanitize(s, "400 Bad request - the body\r\nis “bad”\tnow é"),
            "Bad request - the body is \"bad\" now ?"
        );
        assert_eq!(sanitize(s, "4000 things"), "4000 things");
        let long = sanitize(s, &"x".repeat(1000));
        assert_eq!(long.len(), MAX_LEN);
        assert!(long.ends_with("..."));
        assert!(sanitize(s, &"é".repeat(500)).len() <= MAX_LEN);
    }

    #[test]
    fn only_client_errors_with_news_get_a_phrase() {
        assert_eq!(
            for_error(
                StatusCode::BAD_REQUEST,
                "File already exists: \"a-1.tar.gz\""
            ),
            Some("File already exists: \"a-1.tar.gz\"")
        );
        assert_eq!(
            for_error(StatusCode::UNAUTHORIZED, "401 Unauthorized"),
            None
        );
        assert_eq!(
            for_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
            None
        );
    }

    #[test]
    fn quoted_parts_are_elided() {
        assert_eq!(
            elide_quoted("Filename \"a\" does not match name \"b\" and"),
            "Filename \"...\" does not match name \"...\" and"
        );
        assert_eq!(elide_quoted("no quotes"), "no quotes");
        assert_eq!(elide_quoted("odd \"one"), "odd \"...");
    }

    #[test]
    fn the_same_phrase_is_kept_once() {
        let a = for_error(StatusCode::CONFLICT, "Member \"x\" is here").unwrap();
        let b = for_error(StatusCode::CONFLICT, "Member \"x\" is here").unwrap();
        assert!(std::ptr::eq(a, b));
    }

    #[test]
    fn memory_stays_bounded_whatever_is_sent() {
        let mut phrases = Phrases::default();
        for i in 0..MAX_FULL {
            assert_eq!(
                phrases.keep(format!("File \"{i}\" exists")).unwrap(),
                format!("File \"{i}\" exists")
            );
        }
        assert_eq!(
            phrases.keep("File \"new\" exists".into()),
            Some("File \"...\" exists")
        );
        assert_eq!(
            phrases.keep("File \"0\" exists".into()),
            Some("File \"0\" exists")
        );
        for i in 0..2 * MAX_TOTAL {
            phrases.keep(format!("unquoted {i}"));
        }
        assert_eq!(phrases.0.len(), MAX_TOTAL);
        assert_eq!(
            phrases.keep("File \"other\" exists".into()),
            Some("File \"...\" exists")
        );
        assert_eq!(phrases.keep("unquoted again".into()), None);
    }
}
