//! HTML rewritten with bounded nesting, in one linear pass, before the sanitizer sees it.
//!
//! An HTML tree builder checks "is X in scope" by walking the stack of open elements, so its
//! work grows with tags × depth: `"<div>" * 150000` takes ammonia minutes. This pass tokenizes
//! (linear: html5ever's tokenizer, the one ammonia's parser uses), keeps at most `max_depth`
//! elements open, drops the tags of anything deeper (their text stays), and writes canonical
//! HTML: every kept element closed explicitly, text and attribute values escaped. The sanitizer
//! then builds a tree no deeper than a small multiple of `max_depth` (implied `tbody`, reopened
//! formatting elements), so its work is linear in the input. This pass is not the security
//! boundary: ammonia still decides what may stay.

use std::cell::RefCell;
use std::collections::HashMap;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer,
};

/// `html` with no more than `max_depth` elements open at any point.
pub fn limit(html: &str, max_depth: usize) -> String {
    let sink = Sink(RefCell::new(Writer {
        out: String::with_capacity(html.len() + html.len() / 8),
        max_depth,
        open: Vec::new(),
        written_depth: 0,
        open_by_name: HashMap::new(),
    }));
    let tokenizer = Tokenizer::new(sink, Default::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let mut writer = tokenizer.sink.0.into_inner();
    writer.close_all();
    writer.out
}

struct Sink(RefCell<Writer>);

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut writer = self.0.borrow_mut();
        match token {
            Token::TagToken(tag) if tag.kind == TagKind::StartTag => writer.start(tag),
            Token::TagToken(tag) => {
                writer.end(&tag.name);
                TokenSinkResult::Continue
            }
            Token::CharacterTokens(text) => {
                escape_into(&mut writer.out, &text, false);
                TokenSinkResult::Continue
            }
            // Comments, doctypes, NULs and parse errors carry nothing a description shows.
            _ => TokenSinkResult::Continue,
        }
    }
}

struct Writer {
    out: String,
    max_depth: usize,
    /// Every open element, written or not, innermost last.
    open: Vec<(html5ever::LocalName, bool)>,
    /// How many of `open` were written (the depth the sanitizer will see).
    written_depth: usize,
    /// How many of each name are open, so a stray end tag is dropped without a search.
    open_by_name: HashMap<html5ever::LocalName, usize>,
}

impl Writer {
    fn start(&mut self, tag: Tag) -> TokenSinkResult<()> {
        let name = tag.name.as_ref();
        if !plain_name(name) {
            return TokenSinkResult::Continue;
        }
        if VOID.contains(&name) {
            self.write_tag(&tag);
            return TokenSinkResult::Continue;
        }
        // The common implied end tags (`<li>a<li>b`, `<p>a<p>b`) would otherwise count as
        // nesting and use up the depth of honest hand-written HTML.
        if SELF_ENDING.contains(&name) && self.open.last().is_some_and(|(top, _)| *top == tag.name)
        {
            self.end(&tag.name);
        }
        let write = self.written_depth < self.max_depth;
        if write {
            self.write_tag(&tag);
            self.written_depth += 1;
        }
        *self.open_by_name.entry(tag.name.clone()).or_default() += 1;
        self.open.push((tag.name.clone(), write));
        // Tokenize the content as the sanitizer's parser will: as text, not as tags.
        match name {
            "script" => TokenSinkResult::RawData(RawKind::ScriptData),
            "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => {
                TokenSinkResult::RawData(RawKind::Rawtext)
            }
            "textarea" | "title" => TokenSinkResult::RawData(RawKind::Rcdata),
            "plaintext" => TokenSinkResult::Plaintext,
            _ => TokenSinkResult::Continue,
        }
    }

    /// Closes the innermost open element of this name and everything opened inside it; an end
    /// tag with nothing to close is dropped. Each element is closed once, so this is linear.
    fn end(&mut self, name: &html5ever::LocalName) {
        if self.open_by_name.get(name).is_none_or(|&n| n == 0) {
            return;
        }
        while let Some((open, written)) = self.open.pop() {
            if let Some(count) = self.open_by_name.get_mut(&open) {
                *count -= 1;
            }
            if written {
                self.written_depth -= 1;
                self.out.push_str("</");
                self.out.push_str(&open);
                self.out.push('>');
            }
            if open == *name {
                break;
            }
        }
    }

    fn close_all(&mut self) {
        while let Some((name, _)) = self.open.last() {
            let name = name.clone();
            self.end(&name);
        }
    }

    fn write_tag(&mut self, tag: &Tag) {
        self.out.push('<');
        self.out.push_str(&tag.name);
        for attr in &tag.attrs {
            let name = attr.name.local.as_ref();
            if !plain_name(name) {
                continue;
            }
            self.out.push(' ');
            self.out.push_str(name);
            self.out.push_str("=\"");
            escape_into(&mut self.out, &attr.value, true);
            self.out.push('"');
        }
        self.out.push('>');
    }
}

/// Elements that never have content.
const VOID: [&str; 18] = [
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "img", "input",
    "keygen", "link", "meta", "param", "source", "track", "wbr",
];

/// Elements that a second one of the same name ends when written directly inside.
const SELF_ENDING: [&str; 8] = ["p", "li", "dt", "dd", "option", "tr", "td", "th"];

/// A tag or attribute name of the plain characters real HTML uses; anything else is dropped
/// rather than written back in a form a parser might read differently.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'))
}

fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\0' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::limit;

    /// The deepest nesting in canonical HTML as `limit` writes it.
    fn depth(html: &str) -> usize {
        let (mut depth, mut deepest) = (0usize, 0usize);
        let mut rest = html;
        while let Some(at) = rest.find('<') {
            rest = &rest[at + 1..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
                .collect();
            if let Some(_closing) = name.strip_prefix('/') {
                depth -= 1;
            } else if !super::VOID.contains(&name.as_str()) {
                depth += 1;
                deepest = deepest.max(depth);
            }
        }
        assert_eq!(depth, 0, "unbalanced: {html}");
        deepest
    }

    #[test]
    fn deep_nesting_is_cut_and_text_kept() {
        let hostile = format!("{}deep{}", "<div>".repeat(10_000), "</div>".repeat(10_000));
        let out = limit(&hostile, 32);
        assert_eq!(depth(&out), 32);
        assert!(out.contains("deep"));
        let unclosed = format!("{}x", "<span><b>".repeat(10_000));
        assert_eq!(depth(&limit(&unclosed, 32)), 32);
    }

    #[test]
    fn honest_html_is_kept_as_written() {
        let html = "<p>a <b>bold</b> <a href=\"https://x.example/?a=1&amp;b=2\">link</a></p>\
                    <ul><li>one<li>two</ul><img src=\"x.png\" alt=\"a &quot;b&quot;\"><br>";
        assert_eq!(
            limit(html, 32),
            "<p>a <b>bold</b> <a href=\"https://x.example/?a=1&amp;b=2\">link</a></p>\
             <ul><li>one</li><li>two</li></ul><img src=\"x.png\" alt=\"a &quot;b&quot;\"><br>"
        );
        // A hundred unclosed list items are siblings, not a hundred levels.
        let items = format!("<ul>{}</ul>", "<li>item".repeat(100));
        assert_eq!(depth(&limit(&items, 32)), 2);
    }

    #[test]
    fn stray_and_misnested_end_tags_cannot_unbalance() {
        let out = limit("</div></p><b><i>x</b>y</i><div", 8);
        assert_eq!(out, "<b><i>x</i></b>y");
        // Many stray end tags after a deep start cost one pass, not one search each.
        let hostile = format!("<span>{}{}", "<div>".repeat(50_000), "</em>".repeat(50_000));
        assert_eq!(depth(&limit(&hostile, 16)), 16);
    }

    #[test]
    fn raw_text_stays_text() {
        let out = limit("<style><div><div></style><textarea><b>x</textarea>", 8);
        assert_eq!(
            out,
            "<style>&lt;div&gt;&lt;div&gt;</style><textarea>&lt;b&gt;x</textarea>"
        );
    }
}
