//! A package's long description as HTML that cannot run script: Markdown rendered and then
//! sanitized; reStructuredText and plain text shown as escaped preformatted text.
//!
//! Rendering is done once, at upload (or at the first view of a row stored before it was
//! kept), never while a database connection is held, and its work is bounded: at most
//! `MAX_SOURCE_BYTES` are rendered, Markdown structure is cut below `MAX_MARKDOWN_DEPTH`, and
//! HTML nesting below `MAX_HTML_DEPTH` before the sanitizer builds its tree (whose work grows
//! with tags × depth: `"<div>" * 150000` took minutes).

mod nesting;

use pulldown_cmark::{Event, Options, Parser, html};

/// The most of a description that is rendered: four times a long real README. The rest is
/// left out with a note.
pub const MAX_SOURCE_BYTES: usize = 2 << 20;
/// The most of a description that is stored, the note included: what the JSON API carries,
/// so that no request reads, serializes or compresses more whatever an upload held (the
/// metadata limit allows 16 MiB). The file's own metadata (PEP 658) keeps it whole.
pub const MAX_STORED_BYTES: usize = MAX_SOURCE_BYTES;
/// What ends a description cut to `MAX_STORED_BYTES`; the same words as the database upgrade
/// that cut the ones stored before (`011_bounded_descriptions.sql`).
pub const CUT_NOTE: &str = "\n\n[The description is too long to keep whole: only its beginning \
                            is kept here. The package file's own metadata holds all of it.]\n";
/// Markdown blocks and inlines open at once (quotes in lists in quotes…); deeper structure keeps
/// its text and loses its markup. Real documents stay far below.
pub const MAX_MARKDOWN_DEPTH: usize = 32;
/// HTML elements open at once, Markdown's and raw HTML's together.
pub const MAX_HTML_DEPTH: usize = 64;

/// The most HTML kept for one description: what a page view sends does not grow with how
/// much markup a description packs into its bytes (a table row of `|` pads out to its header).
pub const MAX_HTML_BYTES: usize = 3 * MAX_SOURCE_BYTES;

/// The description as safe HTML, chosen by its `Description-Content-Type` (PEP 566).
pub fn to_html(description: &str, content_type: Option<&str>) -> String {
    if description.trim().is_empty() {
        return String::new();
    }
    let markdown_type = content_type
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/markdown"));
    let mut keep = MAX_SOURCE_BYTES;
    // Output too large for its source: render a proportionally shorter part (at most twice
    // more, so the work stays within three renderings of the bounded source).
    for _ in 0..3 {
        let (source, cut) = bounded(description, keep);
        let mut html = if markdown_type {
            markdown(source)
        } else {
            // reStructuredText has no Rust renderer worth its weight; as text it stays readable.
            format!("<pre class=\"description\">{}</pre>", escape(source))
        };
        if html.len() > MAX_HTML_BYTES {
            keep = source.len() / (html.len() / MAX_HTML_BYTES + 1);
            continue;
        }
        if cut {
            html.push_str(&format!(
                "<p class=\"muted\">The description is too long to show whole: only its first \
                 {} kB are shown here.</p>",
                source.len() / 1000
            ));
        }
        return html;
    }
    "<p class=\"muted\">The description is too large to show here.</p>".to_owned()
}

/// Cuts a description longer than `MAX_STORED_BYTES` at a line break near the limit (else at
/// a character boundary) and ends it with `CUT_NOTE`. Run once, at upload.
pub fn bound_stored(description: &mut String) {
    if description.len() <= MAX_STORED_BYTES {
        return;
    }
    let mut end = MAX_STORED_BYTES - CUT_NOTE.len();
    while !description.is_char_boundary(end) {
        end -= 1;
    }
    // A line break within the last 64 KiB keeps the last line whole; a text with none there
    // (one huge line) is cut where it stands rather than lose most of what is kept.
    let near = end.saturating_sub(64 << 10);
    if let Some(at) = description[..end].rfind('\n').filter(|&at| at >= near) {
        end = at;
    }
    description.truncate(end);
    description.push_str(CUT_NOTE);
}

/// At most `limit` bytes of `text`, ending at a line break where there is one; and whether
/// anything was left out.
fn bounded(text: &str, limit: usize) -> (&str, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map_or(end, |at| at + 1);
    (&text[..end], true)
}

fn escape(text: &str) -> String {
    askama::filters::escape(text, askama::filters::Html)
        .map(|escaped| escaped.to_string())
        .unwrap_or_default()
}

fn markdown(source: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    // Events come properly nested; those deeper than the bound are dropped in start/end pairs,
    // so the writer sees a shallower but balanced document and the text stays.
    let mut depth = 0usize;
    let events = Parser::new_ext(source, options).filter(move |event| match event {
        Event::Start(_) => {
            depth += 1;
            depth <= MAX_MARKDOWN_DEPTH
        }
        Event::End(_) => {
            depth -= 1;
            depth < MAX_MARKDOWN_DEPTH
        }
        _ => true,
    });
    let mut rendered = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut rendered, events);
    let shallow = nesting::limit(&rendered, MAX_HTML_DEPTH);
    // Raw HTML in Markdown is allowed by the format; ammonia keeps only harmless tags and
    // attributes (no script, no event handlers, no javascript: links) and marks links nofollow.
    ammonia::Builder::default()
        .link_rel(Some("nofollow noopener noreferrer"))
        .clean(&shallow)
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Descriptions built to be slow, each about 1 MB: what an attacker uploads.
    fn hostile() -> Vec<(&'static str, String)> {
        let mut table = String::from("|a|b|c|d|e|f|g|h|\n|-|-|-|-|-|-|-|-|\n");
        table.push_str(&"|1|2|3|4|5|6|7|8|\n".repeat(50_000));
        let mut wide = "|x".repeat(20_000);
        wide.push_str("|\n");
        wide.push_str(&"|-".repeat(20_000));
        wide.push_str("|\n");
        wide.push_str(&"|\n".repeat(200_000));
        vec![
            ("deep html", "<div>".repeat(200_000)),
            (
                "deep mixed html",
                "<b><i><div><span><ul><li>".repeat(40_000),
            ),
            ("misnested formatting", "<b><div></b>".repeat(80_000)),
            ("deep blockquotes", ">".repeat(1_000_000)),
            (
                "deep blockquote lines",
                ("> ".repeat(500) + "x\n").repeat(1_000),
            ),
            ("nested lists", format!("{}x\n", "- ".repeat(400_000))),
            (
                "indented lists",
                (0..1_000)
                    .map(|i| format!("{}- x\n", "  ".repeat(i)))
                    .collect(),
            ),
            ("nested emphasis", "*a **b ***c ".repeat(80_000)),
            ("open emphasis", "*_".repeat(500_000)),
            (
                "nested links",
                "[".repeat(500_000) + &"](x)".repeat(100_000),
            ),
            ("many links", "[a](https://example.com/a) ".repeat(40_000)),
            ("many autolinks", "<https://example.com/a> ".repeat(40_000)),
            ("huge table", table),
            ("wide table, short rows", wide),
            (
                "many tags",
                "<a href=\"https://x.example\">x</a>".repeat(30_000),
            ),
        ]
    }

    /// The deepest element nesting in sanitized HTML.
    fn depth(html: &str) -> usize {
        const VOID: [&str; 6] = ["br", "hr", "img", "input", "col", "wbr"];
        let (mut depth, mut deepest) = (0i64, 0i64);
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            rest = &rest[at + 1..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
                .collect();
            if name.starts_with('/') {
                depth -= 1;
            } else if !VOID.contains(&name.as_str()) {
                depth += 1;
                deepest = deepest.max(depth);
            }
        }
        deepest as usize
    }

    #[test]
    fn hostile_descriptions_render_in_bounded_time_and_depth() {
        // Unoptimized test builds run this many times slower than a release; the quadratic
        // renderer took minutes even there for the first case.
        let bound = Duration::from_secs(if cfg!(debug_assertions) { 30 } else { 3 });
        for (case, source) in hostile() {
            let started = Instant::now();
            let html = to_html(&source, Some("text/markdown"));
            let took = started.elapsed();
            eprintln!("{case}: {} bytes in {took:?}", source.len());
            assert!(took < bound, "{case} took {took:?}");
            assert!(
                depth(&html) <= 2 * MAX_HTML_DEPTH,
                "{case}: {}",
                depth(&html)
            );
            assert!(!html.contains("<script"), "{case}");
        }
    }

    #[test]
    fn a_long_honest_readme_renders_whole() {
        let section = "## Usage\n\nSome *text* with a [link](https://example.com) and `code`.\n\n\
                       - one\n  - two\n    - three\n\n> quoted\n> > twice\n\n\
                       | a | b |\n|---|---|\n| 1 | 2 |\n\n```python\nprint(1)\n```\n\n";
        let mut readme = section.repeat(1_000_000 / section.len() + 1);
        readme.push_str("# The end\n");
        assert!(readme.len() > 1_000_000);
        let html = to_html(&readme, Some("text/markdown"));
        assert!(html.contains("<h1>The end</h1>"), "the end is missing");
        assert!(!html.contains("too long"));
    }

    #[test]
    fn an_overlong_description_is_cut_at_a_line_with_a_note() {
        let long = "é line\n".repeat(MAX_SOURCE_BYTES / 8 + 10);
        for content_type in [Some("text/markdown"), None] {
            let html = to_html(&long, content_type);
            assert!(html.contains("too long to show whole"), "{content_type:?}");
            assert!(html.len() < MAX_HTML_BYTES);
        }
        assert_eq!(bounded("short", 10), ("short", false));
        let (kept, cut) = bounded(&long, MAX_SOURCE_BYTES);
        assert!(cut && kept.ends_with('\n') && kept.len() <= MAX_SOURCE_BYTES);
    }

    #[test]
    fn html_that_outgrows_its_source_is_cut_to_the_bound() {
        // Escaping makes each `&` five bytes: a full-size description would be 10 MiB of HTML.
        let ampersands = "&".repeat(99) + "\n";
        let html = to_html(&ampersands.repeat(MAX_SOURCE_BYTES / 100), None);
        assert!(html.len() <= MAX_HTML_BYTES + 200, "{}", html.len());
        assert!(html.len() > MAX_HTML_BYTES / 2, "{}", html.len());
        assert!(html.contains("too long to show whole"));
    }

    #[test]
    fn tables_lists_and_images_cut_at_any_depth_stay_balanced() {
        let table = "| a | b |\n|---|---|\n| 1 | ![i](x.png \"t\") |\n\n1. one\n   - two\n\n```\ncode\n```\n";
        for depth in MAX_MARKDOWN_DEPTH - 4..MAX_MARKDOWN_DEPTH + 2 {
            let prefix = "> ".repeat(depth);
            let source: String = table.lines().map(|l| format!("{prefix}{l}\n")).collect();
            let html = to_html(&source, Some("text/markdown"));
            assert!(
                html.contains("one") && html.contains("code"),
                "{depth}: {html}"
            );
            assert_eq!(
                html.matches("<blockquote>").count(),
                html.matches("</blockquote>").count(),
                "{depth}"
            );
        }
    }

    #[test]
    fn structure_deeper_than_the_bound_keeps_its_text() {
        let html = to_html(
            &format!("{}deep text", "> ".repeat(100)),
            Some("text/markdown"),
        );
        assert!(html.contains("deep text"));
        assert_eq!(html.matches("<blockquote>").count(), MAX_MARKDOWN_DEPTH);
    }

    #[test]
    fn markdown_is_rendered() {
        let html = to_html(
            "# Title\n\n*em* and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
            Some("text/markdown; charset=UTF-8; variant=GFM"),
        );
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>em</em>") && html.contains("<code>code</code>"));
        assert!(html.contains("<table>"), "{html}");
    }

    #[test]
    fn markdown_cannot_run_script() {
        let hostile = "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n\
                       [click](javascript:alert(3))\n\n<a href=\"https://ok.example\" onclick=\"x()\">ok</a>\n\n\
                       <iframe src=\"https://evil.example\"></iframe><style>body{}</style>";
        let html = to_html(hostile, Some("text/markdown"));
        for bad in [
            "<script",
            "onerror",
            "javascript:",
            "onclick",
            "<iframe",
            "<style",
        ] {
            assert!(!html.contains(bad), "{bad} survived: {html}");
        }
        assert!(html.contains("href=\"https://ok.example\""), "{html}");
        assert!(html.contains("nofollow"), "{html}");
    }

    #[test]
    fn rst_and_plain_text_are_escaped_verbatim() {
        for content_type in [Some("text/x-rst"), Some("text/plain"), None] {
            let html = to_html("Title\n=====\n\n<b>not bold</b> & more", content_type);
            assert!(html.starts_with("<pre class=\"description\">"), "{html}");
            assert!(
                html.contains("&#60;b&#62;not bold") || html.contains("&lt;b&gt;not bold"),
                "{html}"
            );
            assert!(html.contains("&#38;") || html.contains("&amp;"), "{html}");
        }
    }

    #[test]
    fn a_stored_description_is_bounded_with_a_note() {
        let mut short = "# Short\n".to_owned();
        bound_stored(&mut short);
        assert_eq!(short, "# Short\n");
        let line = "ünïcode words of a line\n";
        let mut long = line.repeat(MAX_STORED_BYTES / line.len() + 10);
        bound_stored(&mut long);
        assert!(long.len() <= MAX_STORED_BYTES, "{}", long.len());
        assert!(long.len() > MAX_STORED_BYTES - (64 << 10));
        let kept = long.strip_suffix(CUT_NOTE).expect("the note ends it");
        assert!(kept.ends_with("line"), "cut at a line break");
        // One huge line, multi-byte characters across the limit: cut at a character boundary.
        let mut one_line = format!("a\n{}", "é".repeat(MAX_STORED_BYTES));
        bound_stored(&mut one_line);
        assert!(one_line.len() <= MAX_STORED_BYTES);
        assert!(one_line.len() > MAX_STORED_BYTES - CUT_NOTE.len() - 2);
        assert!(one_line.ends_with(CUT_NOTE));
    }
}
