//! A package's long description as HTML that cannot run script: Markdown rendered and then
//! sanitized; reStructuredText and plain text shown as escaped preformatted text.

use pulldown_cmark::{Options, Parser, html};

/// The description as safe HTML, chosen by its `Description-Content-Type` (PEP 566).
pub fn to_html(description: &str, content_type: Option<&str>) -> String {
    let media_type = content_type
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    match media_type.as_deref() {
        Some("text/markdown") => markdown(description),
        // reStructuredText has no Rust renderer worth its weight; as text it stays readable.
        _ => format!(
            "<pre class=\"description\">{}</pre>",
            askama::filters::escape(description, askama::filters::Html)
                .map(|escaped| escaped.to_string())
                .unwrap_or_default()
        ),
    }
}

fn markdown(source: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut rendered = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut rendered, Parser::new_ext(source, options));
    // Raw HTML in Markdown is allowed by the format; ammonia keeps only harmless tags and
    // attributes (no script, no event handlers, no javascript: links) and marks links nofollow.
    ammonia::Builder::default()
        .link_rel(Some("nofollow noopener noreferrer"))
        .clean(&rendered)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::to_html;

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
}
