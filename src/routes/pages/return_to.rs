//! Where a browser goes after signing in: only ever a path on this site (no open redirect).

/// Where signing in returns to when `return_to` is absent or leads off this site.
const HOME: &str = "/";
/// Longer `return_to` values are not followed (no page of this site needs one).
const MAX_RETURN_TO: usize = 2048;

/// Only a path on this site, judged as browsers judge it: by the WHATWG URL Standard, which
/// drops tabs and newlines anywhere (`/%09/evil`, `/\t/evil`), reads `\` as `/` and a
/// leading `//` as another host. `return_to` is resolved against a fixed base and kept only
/// if it stays on that origin; what goes back is the resolved path and query, re-encoded (so
/// no raw control character reaches the `Location` header), and checked to resolve to the
/// same place again. Everything else goes home.
pub(super) fn local_path(return_to: Option<&str>) -> String {
    let base = url::Url::parse("http://wheelhouse.invalid/").expect("a valid base URL");
    let Some(mut resolved) = return_to
        .filter(|text| text.starts_with('/') && text.len() <= MAX_RETURN_TO)
        .and_then(|text| base.join(text).ok())
        .filter(|url| url.origin() == base.origin() && url.username().is_empty())
    else {
        return HOME.to_owned();
    };
    resolved.set_fragment(None);
    let local = match resolved.query() {
        Some(query) => format!("{}?{query}", resolved.path()),
        None => resolved.path().to_owned(),
    };
    // `/.//evil` resolves to the path `//evil`, which as a Location is another host.
    let round_trip = base.join(&local).ok();
    if local.starts_with("//") || round_trip.as_ref() != Some(&resolved) {
        return HOME.to_owned();
    }
    local
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn sign_in_returns_only_to_paths_on_this_site() {
        for (given, kept) in [
            ("/acme/models", "/acme/models"),
            ("/a?b=c", "/a?b=c"),
            (
                "/acme/models/-/packages/5?x=1#top",
                "/acme/models/-/packages/5?x=1",
            ),
            ("/a b", "/a%20b"),
            ("/a/../b", "/b"),
            ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),
            ("/\t", "/"),
        ] {
            assert_eq!(local_path(Some(given)), kept, "{given:?}");
        }
        let long = format!("/{}", "a".repeat(5000));
        for outside in [
            "//evil.example",
            "//evil.example/x",
            "///evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "\\\\evil.example",
            "/\t/evil.example/x",
            "/\n/evil.example/x",
            "/\r/evil.example",
            "/\r\n/evil.example",
            "\t//evil.example",
            "/\t\\evil.example",
            "/.//evil.example",
            "/./\\evil.example",
            " //evil.example",
            " /\t/evil.example",
            "http:evil.example",
            "http:/evil.example",
            "http://evil.example",
            "https://evil.example/x",
            "HTTPS://evil.example",
            "javascript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,x",
            "evil.example",
            "",
            &long,
        ] {
            assert_eq!(local_path(Some(outside)), "/", "{outside:?}");
        }
        assert_eq!(local_path(None), "/");
        // The attack arrives percent-decoded from the form: a real TAB.
        assert_eq!(local_path(Some("/\u{9}/evil.example/x")), "/");
        // Percent-encoded separators stay inside one path segment.
        assert_eq!(
            local_path(Some("/%09/evil.example/x")),
            "/%09/evil.example/x"
        );
        assert_eq!(local_path(Some("/%5Cevil.example")), "/%5Cevil.example");
    }
}
