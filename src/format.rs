//! The representations of a simple page (PEP 691) and which one an `Accept` header asks for:
//! below both the routes that negotiate it and the page cache that keys on it.

/// A representation of a simple page, with the exact media type it is served as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `text/html`: what browsers and old clients get, and the default.
    Html,
    /// `application/vnd.pypi.simple.v1+html`
    HtmlV1,
    /// `application/vnd.pypi.simple.v1+json`
    JsonV1,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::HtmlV1 => "application/vnd.pypi.simple.v1+html",
            Format::JsonV1 => "application/vnd.pypi.simple.v1+json",
        }
    }

    pub fn is_json(self) -> bool {
        self == Format::JsonV1
    }

    /// The media types that name this format exactly (`latest` is an alias of `v1`).
    fn names(self) -> &'static [&'static str] {
        match self {
            Format::Html => &["text/html"],
            Format::HtmlV1 => &[
                "application/vnd.pypi.simple.v1+html",
                "application/vnd.pypi.simple.latest+html",
            ],
            Format::JsonV1 => &[
                "application/vnd.pypi.simple.v1+json",
                "application/vnd.pypi.simple.latest+json",
            ],
        }
    }
}

/// The server's order of preference: on a tie of q-values the earlier wins (HTML first).
const OFFERS: [Format; 3] = [Format::Html, Format::HtmlV1, Format::JsonV1];

/// One media range of an `Accept` header.
struct Range<'a> {
    media_type: &'a str,
    q: f32,
}

fn parse_ranges(accept: &str) -> Vec<Range<'_>> {
    accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let media_type = pieces.next()?.trim();
            if media_type.is_empty() {
                return None;
            }
            let mut q = 1.0;
            for param in pieces {
                if let Some((key, value)) = param.split_once('=')
                    && key.trim().eq_ignore_ascii_case("q")
                {
                    // A q that does not parse makes the range unusable rather than preferred.
                    q = value
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .unwrap_or(0.0);
                }
            }
            Some(Range { media_type, q })
        })
        .collect()
}

/// How specifically `range` matches `format`: 3 exact, 2 `type/*`, 1 `*/*`, 0 not at all.
fn specificity(range: &str, format: Format) -> u8 {
    if format
        .names()
        .iter()
        .any(|name| range.eq_ignore_ascii_case(name))
    {
        return 3;
    }
    if range == "*/*" {
        return 1;
    }
    match range.strip_suffix("/*") {
        Some(top) if format.names()[0].split('/').next() == Some(&*top.to_ascii_lowercase()) => 2,
        _ => 0,
    }
}

/// Each offer takes the q of the most specific range that matches it; the highest q wins;
/// q=0 means never. With no header, or nothing acceptable, the answer is HTML.
pub fn choose(accept: Option<&str>) -> Format {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Format::Html;
    };
    let ranges = parse_ranges(accept);
    let mut best: Option<(Format, f32)> = None;
    for offer in OFFERS {
        let q = ranges
            .iter()
            .map(|r| (specificity(r.media_type, offer), r.q))
            .filter(|(s, _)| *s > 0)
            .max_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, q)| q)
            .unwrap_or(0.0);
        if q > 0.0 && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((offer, q));
        }
    }
    best.map(|(f, _)| f).unwrap_or(Format::Html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_client_headers() {
        let pip = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
        assert_eq!(choose(Some(pip)), Format::JsonV1);
        let uv = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";
        assert_eq!(choose(Some(uv)), Format::JsonV1);
        let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";
        assert_eq!(choose(Some(browser)), Format::Html);
    }

    #[test]
    fn defaults_and_wildcards() {
        assert_eq!(choose(None), Format::Html);
        assert_eq!(choose(Some("")), Format::Html);
        assert_eq!(choose(Some("*/*")), Format::Html);
        assert_eq!(choose(Some("image/png")), Format::Html);
        assert_eq!(choose(Some("application/*")), Format::HtmlV1);
    }

    #[test]
    fn aliases_and_q_values() {
        assert_eq!(
            choose(Some("application/vnd.pypi.simple.latest+json")),
            Format::JsonV1
        );
        assert_eq!(
            choose(Some("application/vnd.pypi.simple.latest+html")),
            Format::HtmlV1
        );
        assert_eq!(
            choose(Some(
                "text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.6"
            )),
            Format::JsonV1
        );
        // A tie goes to HTML, the server's first offer.
        assert_eq!(
            choose(Some("application/vnd.pypi.simple.v1+json, text/html")),
            Format::Html
        );
    }

    #[test]
    fn q_zero_means_never() {
        assert_eq!(
            choose(Some(
                "*/*, text/html;q=0, application/vnd.pypi.simple.v1+html;q=0"
            )),
            Format::JsonV1
        );
        assert_eq!(
            choose(Some("application/vnd.pypi.simple.v1+json;q=0")),
            Format::Html
        );
        assert_eq!(choose(Some("text/html;q=abc")), Format::Html);
    }
}
