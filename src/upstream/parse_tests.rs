//! Unit tests of the upstream page parser: real page shapes, hostile pages, and no panic on noise.

use super::*;

const JSON: Option<&str> = Some("application/vnd.pypi.simple.v1+json");
const HTML: Option<&str> = Some("text/html");

fn sha(c: char) -> String {
    c.to_string().repeat(64)
}

fn page_url() -> Url {
    Url::parse("https://up.example/simple/foo/").unwrap()
}

fn parse(body: &str, content_type: Option<&str>) -> Vec<FileRow> {
    parse_page(body.as_bytes(), content_type, &page_url(), "foo").unwrap()
}

fn parse_err(body: &str, content_type: Option<&str>) -> Error {
    parse_page(body.as_bytes(), content_type, &page_url(), "foo").unwrap_err()
}

fn filenames(rows: &[FileRow]) -> Vec<&str> {
    rows.iter().map(|row| row.filename.as_str()).collect()
}

fn json_page(files: serde_json::Value) -> String {
    serde_json::json!({ "meta": { "api-version": "1.1" }, "name": "foo", "files": files })
        .to_string()
}

fn json_file(filename: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut file = serde_json::json!({
        "filename": filename,
        "url": format!("https://files.example/{filename}"),
        "hashes": { "sha256": sha('a') },
    });
    for (key, value) in extra.as_object().unwrap() {
        file[key] = value.clone();
    }
    file
}

fn html_page(anchors: &str) -> String {
    format!("<!DOCTYPE html><html><body><h1>Links for foo</h1>{anchors}</body></html>")
}

#[test]
fn reads_a_pypi_shaped_json_page() {
    let body = serde_json::json!({
        "meta": { "api-version": "1.3", "_last-serial": 123 },
        "name": "foo",
        "versions": ["1.0", "2.0rc1"],
        "files": [
            {
                "filename": "Foo-1.0-py3-none-any.whl",
                "url": "https://files.example/packages/ab/cd/Foo-1.0-py3-none-any.whl",
                "hashes": { "sha256": sha('A'), "blake2b_256": sha('b') },
                "requires-python": ">=3.8",
                "core-metadata": { "sha256": sha('c') },
                "data-dist-info-metadata": { "sha256": sha('c') },
                "size": 12345,
                "upload-time": "2023-06-01T12:34:56.789012Z",
                "yanked": false,
                "provenance": null,
            },
            {
                "filename": "foo-2.0RC1.tar.gz",
                "url": "https://files.example/packages/foo-2.0RC1.tar.gz",
                "hashes": { "sha256": sha('d') },
                "core-metadata": false,
                "size": 999,
                "upload-time": "2024-01-01T00:00:00Z",
                "yanked": "broken build",
            },
        ],
    });
    let rows = parse(&body.to_string(), JSON);
    assert_eq!(
        rows,
        vec![
            FileRow {
                filename: "Foo-1.0-py3-none-any.whl".into(),
                version: "1.0".into(),
                url: "https://files.example/packages/ab/cd/Foo-1.0-py3-none-any.whl".into(),
                sha256: sha('a'),
                size: Some(12345),
                requires_python: Some(">=3.8".into()),
                yanked: None,
                metadata_sha256: Some(sha('c')),
                upload_time: Some("2023-06-01T12:34:56.789012Z".into()),
            },
            FileRow {
                filename: "foo-2.0RC1.tar.gz".into(),
                // The normalized form, as Wheelhouse stores its own versions.
                version: "2.0rc1".into(),
                url: "https://files.example/packages/foo-2.0RC1.tar.gz".into(),
                sha256: sha('d'),
                size: Some(999),
                requires_python: None,
                yanked: Some("broken build".into()),
                metadata_sha256: None,
                upload_time: Some("2024-01-01T00:00:00Z".into()),
            },
        ]
    );
}

#[test]
fn resolves_relative_json_urls_and_drops_fragments() {
    let body = json_page(serde_json::json!([
        { "filename": "foo-1.0.tar.gz", "url": "../../packages/foo-1.0.tar.gz#sha256=x",
          "hashes": { "sha256": sha('a') } },
        { "filename": "foo-1.1.tar.gz", "url": "/p/foo-1.1.tar.gz", "hashes": { "sha256": sha('a') } },
    ]));
    let rows = parse(&body, JSON);
    assert_eq!(rows[0].url, "https://up.example/packages/foo-1.0.tar.gz");
    assert_eq!(rows[1].url, "https://up.example/p/foo-1.1.tar.gz");
}

#[test]
fn refuses_other_json_api_versions() {
    let body = serde_json::json!({ "meta": { "api-version": "2.0" }, "files": [] }).to_string();
    let err = parse_err(&body, JSON);
    assert!(matches!(err, Error::BadGateway(_)), "{err:?}");
    assert!(err.to_string().contains("version 2.0"), "{err}");
    let body = serde_json::json!({ "meta": { "api-version": "1.99" }, "files": [] }).to_string();
    assert!(parse(&body, JSON).is_empty());
    // No meta at all: read as 1.0, as the earliest servers wrote it.
    assert!(parse(r#"{"files": []}"#, JSON).is_empty());
    let err = parse_err("{}", Some("application/vnd.pypi.simple.v2+json"));
    assert!(err.to_string().contains("simple API version 1"), "{err}");
}

#[test]
fn refuses_json_that_is_not_a_project_page() {
    for body in [
        "[]",
        "{}",
        r#"{"files": {}}"#,
        "{\"files\": [",
        "nonsense",
        "",
    ] {
        let err = parse_err(body, JSON);
        assert!(matches!(err, Error::BadGateway(_)), "{body}: {err:?}");
    }
}

#[test]
fn skips_malformed_json_entries_not_the_page() {
    let body = json_page(serde_json::json!([
        1,
        "foo-0.1.tar.gz",
        ["foo-0.2.tar.gz"],
        { "filename": 5, "url": "https://x/foo-0.3.tar.gz", "hashes": { "sha256": sha('a') } },
        { "filename": "foo-0.4.tar.gz", "hashes": { "sha256": sha('a') } },
        { "filename": "foo-0.5.tar.gz", "url": "https://x/foo-0.5.tar.gz", "hashes": [sha('a')] },
        json_file("foo-0.6.tar.gz", serde_json::json!({ "requires-python": 3 })),
        json_file("foo-1.0.tar.gz", serde_json::json!({})),
    ]));
    assert_eq!(filenames(&parse(&body, JSON)), ["foo-1.0.tar.gz"]);
    // A duplicate key makes an entry malformed; the rest of the page still counts.
    let body = format!(
        r#"{{"files": [{{"filename": "foo-0.1.tar.gz", "filename": "foo-0.2.tar.gz"}}, {}]}}"#,
        json_file("foo-1.0.tar.gz", serde_json::json!({}))
    );
    assert_eq!(filenames(&parse(&body, JSON)), ["foo-1.0.tar.gz"]);
}

#[test]
fn drops_other_projects_files() {
    let names = [
        "foo-1.0.tar.gz",
        "bar-1.0.tar.gz",
        "foo-bar-1.0.tar.gz",
        "foobar-1.0-py3-none-any.whl",
        "foo_bar-1.0-py3-none-any.whl",
        "Foo-1.1.zip",
        "foo-1.2-py3-none-any.whl",
        "foo-notaversion.tar.gz",
        "foo-1.3.egg",
        "foo-1.3.exe",
    ];
    let files: Vec<_> = names
        .iter()
        .map(|n| json_file(n, serde_json::json!({})))
        .collect();
    let rows = parse(&json_page(files.into()), JSON);
    assert_eq!(
        filenames(&rows),
        ["foo-1.0.tar.gz", "Foo-1.1.zip", "foo-1.2-py3-none-any.whl"]
    );
    let anchors: String = names
        .iter()
        .map(|n| format!("<a href=\"/p/{n}#sha256={}\">{n}</a>", sha('a')))
        .collect();
    assert_eq!(
        filenames(&parse(&html_page(&anchors), HTML)),
        filenames(&rows)
    );
    // The name comes from the link, as pip reads it, never from the anchor's text.
    let disguised = html_page(&format!(
        "<a href=\"/p/bar-1.0.tar.gz#sha256={}\">foo-1.0.tar.gz</a>",
        sha('a')
    ));
    assert!(parse(&disguised, HTML).is_empty());
    // Dashed project names match their own files.
    let rows = parse_page(html_page(&anchors).as_bytes(), HTML, &page_url(), "foo-bar").unwrap();
    assert_eq!(
        filenames(&rows),
        ["foo-bar-1.0.tar.gz", "foo_bar-1.0-py3-none-any.whl"]
    );
}

#[test]
fn drops_files_without_a_checkable_sha256() {
    let files = serde_json::json!([
        { "filename": "foo-0.1.tar.gz", "url": "a", "hashes": { "md5": "d41d8cd98f00b204e9800998ecf8427e" } },
        { "filename": "foo-0.2.tar.gz", "url": "a", "hashes": {} },
        { "filename": "foo-0.3.tar.gz", "url": "a" },
        { "filename": "foo-0.4.tar.gz", "url": "a", "hashes": { "sha256": "abc" } },
        { "filename": "foo-0.5.tar.gz", "url": "a", "hashes": { "sha256": sha('g') } },
        { "filename": "foo-0.6.tar.gz", "url": "a", "hashes": { "sha256": format!(" {}", sha('a')) } },
        { "filename": "foo-0.7.tar.gz", "url": "a", "hashes": { "sha256": 7 } },
        { "filename": "foo-1.0.tar.gz", "url": "a", "hashes": { "sha256": sha('F') } },
    ]);
    let rows = parse(&json_page(files), JSON);
    assert_eq!(filenames(&rows), ["foo-1.0.tar.gz"]);
    assert_eq!(rows[0].sha256, sha('f'));

    let html = html_page(&format!(
        "<a href=\"foo-0.1.tar.gz#md5=d41d8cd98f00b204e9800998ecf8427e\">x</a>
         <a href=\"foo-0.2.tar.gz\">x</a>
         <a href=\"foo-0.3.tar.gz#sha256=abc\">x</a>
         <a href=\"foo-0.4.tar.gz#sha512={0}{0}\">x</a>
         <a href=\"foo-1.0.tar.gz#md5=d41d8cd98f00b204e9800998ecf8427e&amp;sha256={1}\">x</a>",
        sha('a'),
        sha('B'),
    ));
    let rows = parse(&html, HTML);
    assert_eq!(filenames(&rows), ["foo-1.0.tar.gz"]);
    assert_eq!(rows[0].sha256, sha('b'));
    assert_eq!(rows[0].url, "https://up.example/simple/foo/foo-1.0.tar.gz");
}

#[test]
fn reads_a_pypiserver_shaped_html_page() {
    let body = format!(
        "<html>\n  <head>\n    <title>Links for foo</title>\n  </head>\n  <body>\n    \
         <h1>Links for foo</h1>\n         \
         <a href=\"/packages/foo-1.0.tar.gz#sha256={0}\">foo-1.0.tar.gz</a><br>\n         \
         <a href=\"/packages/foo-1.0-py3-none-any.whl#sha256={1}\">foo-1.0-py3-none-any.whl</a><br>\n  \
         </body>\n</html>",
        sha('1'),
        sha('2')
    );
    let rows = parse(&body, Some("text/html; charset=UTF-8"));
    assert_eq!(
        rows[0],
        FileRow {
            filename: "foo-1.0.tar.gz".into(),
            version: "1.0".into(),
            url: "https://up.example/packages/foo-1.0.tar.gz".into(),
            sha256: sha('1'),
            size: None,
            requires_python: None,
            yanked: None,
            metadata_sha256: None,
            upload_time: None,
        }
    );
    assert_eq!(
        rows[1].url,
        "https://up.example/packages/foo-1.0-py3-none-any.whl"
    );
    assert_eq!(rows.len(), 2);
}

#[test]
fn reads_a_wheelhouse_shaped_html_page() {
    // What assets/templates/simple_package.html renders (askama escapes `<` and `>` numerically).
    let page =
        Url::parse("http://127.0.0.1:8080/api/v4/groups/3/-/packages/pypi/simple/foo/").unwrap();
    let body = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n  <head>\n    <meta charset=\"utf-8\">\n    \
         <meta name=\"pypi:repository-version\" content=\"1.1\">\n    <title>Links for foo</title>\n  \
         </head>\n  <body>\n    <h1>Links for foo</h1>\n    \
         <a href=\"../../files/{0}/foo-1.0+local-py3-none-any.whl#sha256={0}\" \
         data-requires-python=\"&#62;=3.8,&#60;4\" data-core-metadata=\"sha256={1}\" \
         data-dist-info-metadata=\"sha256={1}\">foo-1.0+local-py3-none-any.whl</a><br>\n    \
         <a href=\"../../files/{2}/foo-2.0.tar.gz#sha256={2}\" data-yanked=\"\">foo-2.0.tar.gz</a><br>\n  \
         </body>\n</html>",
        sha('a'),
        sha('c'),
        sha('e'),
    );
    let rows = parse_page(body.as_bytes(), HTML, &page, "foo").unwrap();
    assert_eq!(
        rows,
        vec![
            FileRow {
                filename: "foo-1.0+local-py3-none-any.whl".into(),
                version: "1.0+local".into(),
                url: format!(
                    "http://127.0.0.1:8080/api/v4/groups/3/-/packages/pypi/files/{}/foo-1.0+local-py3-none-any.whl",
                    sha('a')
                ),
                sha256: sha('a'),
                size: None,
                requires_python: Some(">=3.8,<4".into()),
                yanked: None,
                metadata_sha256: Some(sha('c')),
                upload_time: None,
            },
            FileRow {
                filename: "foo-2.0.tar.gz".into(),
                version: "2.0".into(),
                url: format!(
                    "http://127.0.0.1:8080/api/v4/groups/3/-/packages/pypi/files/{}/foo-2.0.tar.gz",
                    sha('e')
                ),
                sha256: sha('e'),
                size: None,
                requires_python: None,
                yanked: Some(String::new()),
                metadata_sha256: None,
                upload_time: None,
            },
        ]
    );
}

#[test]
fn decodes_entities_and_percent_escapes() {
    let body = html_page(&format!(
        "<a href=\"foo-1.0%2Bcpu-py3-none-any.whl?a=1&amp;b=2#sha256={0}\" \
           data-requires-python=\"&gt;=3.8,&lt;4&#x2C;!=3.9.*\" data-yanked=\"&quot;bad&quot; &amp; old\">x</a>
         <a href=\"foo-2.0%2Ftar.gz#sha256={0}\">slash</a>
         <a href=\"..%2F..%2Ffoo-3.0.tar.gz#sha256={0}\">dots</a>
         <a href=\"foo-4.0.tar.gz/#sha256={0}\">trailing slash</a>",
        sha('a')
    ));
    let rows = parse(&body, HTML);
    assert_eq!(
        filenames(&rows),
        ["foo-1.0+cpu-py3-none-any.whl", "foo-4.0.tar.gz"]
    );
    assert_eq!(
        rows[0].url,
        "https://up.example/simple/foo/foo-1.0%2Bcpu-py3-none-any.whl?a=1&b=2"
    );
    assert_eq!(rows[0].version, "1.0+cpu");
    assert_eq!(rows[0].requires_python.as_deref(), Some(">=3.8,<4,!=3.9.*"));
    assert_eq!(rows[0].yanked.as_deref(), Some("\"bad\" & old"));
}

#[test]
fn keeps_only_http_and_https_urls() {
    let anchors = format!(
        "<a href=\"javascript:alert(1)//foo-0.1.tar.gz#sha256={0}\">x</a>
         <a href=\"JavaScript:void(0);/foo-0.2.tar.gz#sha256={0}\">x</a>
         <a href=\"file:///etc/foo-0.3.tar.gz#sha256={0}\">x</a>
         <a href=\"data:text/plain,foo-0.4.tar.gz#sha256={0}\">x</a>
         <a href=\"ftp://up.example/foo-0.5.tar.gz#sha256={0}\">x</a>
         <a href=\"http://[::1/foo-0.6.tar.gz#sha256={0}\">x</a>
         <a href=\"  http://other.example/foo-1.0.tar.gz#sha256={0}\">x</a>
         <a href=\"HTTPS://UP.example/foo-1.1.tar.gz#sha256={0}\">x</a>
         <a name=\"no-href\">foo-1.2.tar.gz</a>",
        sha('a')
    );
    let rows = parse(&html_page(&anchors), HTML);
    assert_eq!(filenames(&rows), ["foo-1.0.tar.gz", "foo-1.1.tar.gz"]);
    assert_eq!(rows[1].url, "https://up.example/foo-1.1.tar.gz");
    let files = serde_json::json!([
        { "filename": "foo-0.1.tar.gz", "url": "javascript:alert(1)", "hashes": { "sha256": sha('a') } },
        { "filename": "foo-0.2.tar.gz", "url": "file:///etc/passwd", "hashes": { "sha256": sha('a') } },
    ]);
    assert!(parse(&json_page(files), JSON).is_empty());
}

#[test]
fn follows_the_first_base_and_ignores_links_in_scripts_and_comments() {
    let body = format!(
        "<html><head><base href=\"https://mirror.example/dl/\"><base href=\"https://evil.example/\">
         <script>document.write('<a href=\"foo-0.1.tar.gz#sha256={0}\">')</script>
         <style>a::after {{ content: '<a href=\"foo-0.2.tar.gz#sha256={0}\">' }}</style></head>
         <body><!-- <a href=\"foo-0.3.tar.gz#sha256={0}\"> -->
         <a href=\"foo-1.0.tar.gz#sha256={0}\">foo-1.0.tar.gz</a></body></html>",
        sha('a')
    );
    let rows = parse(&body, HTML);
    assert_eq!(filenames(&rows), ["foo-1.0.tar.gz"]);
    assert_eq!(rows[0].url, "https://mirror.example/dl/foo-1.0.tar.gz");
}

#[test]
fn reads_yanked_variants() {
    let json = |yanked: serde_json::Value| {
        let body = json_page(serde_json::json!([json_file(
            "foo-1.0.tar.gz",
            serde_json::json!({ "yanked": yanked })
        )]));
        parse(&body, JSON)[0].yanked.clone()
    };
    assert_eq!(json(serde_json::json!(true)), Some(String::new()));
    assert_eq!(json(serde_json::json!("gone")), Some("gone".into()));
    assert_eq!(json(serde_json::json!(false)), None);
    assert_eq!(json(serde_json::json!(null)), None);
    assert_eq!(json(serde_json::json!("")), None);
    assert_eq!(json(serde_json::json!(1)), None);

    let html = |attribute: &str| {
        let body = html_page(&format!(
            "<a href=\"foo-1.0.tar.gz#sha256={}\" {attribute}>x</a>",
            sha('a')
        ));
        parse(&body, HTML)[0].yanked.clone()
    };
    assert_eq!(html("data-yanked"), Some(String::new()));
    assert_eq!(html("data-yanked=\"\""), Some(String::new()));
    assert_eq!(html("data-yanked=\"security\""), Some("security".into()));
    assert_eq!(html("data-yanked=a data-yanked=b"), Some("a".into()));
    assert_eq!(html(""), None);
    // A long reason is cut at a character boundary, not refused.
    let long = "é".repeat(MAX_TEXT_LEN);
    let reason = html(&format!("data-yanked=\"x{long}\"")).unwrap();
    assert_eq!(reason.len(), MAX_TEXT_LEN - 1);
    assert!(reason.starts_with("xé"));
}

#[test]
fn reads_core_metadata_variants() {
    let json = |extra: serde_json::Value| {
        let body = json_page(serde_json::json!([json_file("foo-1.0.tar.gz", extra)]));
        parse(&body, JSON)[0].metadata_sha256.clone()
    };
    let c = sha('c');
    let d = sha('d');
    assert_eq!(
        json(serde_json::json!({ "core-metadata": { "sha256": c } })),
        Some(c.clone())
    );
    assert_eq!(json(serde_json::json!({ "core-metadata": true })), None);
    assert_eq!(json(serde_json::json!({ "core-metadata": false })), None);
    assert_eq!(
        json(serde_json::json!({ "core-metadata": { "md5": c } })),
        None
    );
    assert_eq!(
        json(serde_json::json!({ "core-metadata": { "sha256": "zz" } })),
        None
    );
    assert_eq!(
        json(serde_json::json!({ "dist-info-metadata": { "sha256": sha('C') } })),
        Some(c.clone())
    );
    assert_eq!(
        json(
            serde_json::json!({ "core-metadata": { "sha256": c }, "dist-info-metadata": { "sha256": d } })
        ),
        Some(c.clone())
    );
    // PEP 714: the old key counts only when the new one is absent.
    assert_eq!(
        json(serde_json::json!({ "core-metadata": false, "dist-info-metadata": { "sha256": d } })),
        None
    );
    assert_eq!(json(serde_json::json!({})), None);

    let html = |attributes: String| {
        let body = html_page(&format!(
            "<a href=\"foo-1.0.tar.gz#sha256={}\" {attributes}>x</a>",
            sha('a')
        ));
        parse(&body, HTML)[0].metadata_sha256.clone()
    };
    assert_eq!(
        html(format!("data-core-metadata=\"sha256={c}\"")),
        Some(c.clone())
    );
    assert_eq!(
        html(format!("data-dist-info-metadata=\"sha256={c}\"")),
        Some(c.clone())
    );
    assert_eq!(html("data-core-metadata=\"true\"".into()), None);
    assert_eq!(html("data-core-metadata".into()), None);
    assert_eq!(html(format!("data-core-metadata=\"md5={c}\"")), None);
    assert_eq!(html("data-core-metadata=\"sha256=zz\"".into()), None);
    assert_eq!(
        html(format!(
            "data-core-metadata=\"true\" data-dist-info-metadata=\"sha256={d}\""
        )),
        None
    );
}

#[test]
fn bounds_urls_and_text() {
    let long_path = "a/".repeat(MAX_URL_LEN / 2);
    let too_long_rp = ">=3.8,".repeat(MAX_TEXT_LEN / 6 + 1);
    let body = html_page(&format!(
        "<a href=\"/{long_path}foo-0.1.tar.gz#sha256={0}\">x</a>
         <a href=\"foo-0.2.tar.gz#sha256={0}\" data-requires-python=\"{too_long_rp}\">x</a>
         <a href=\"foo-0.3.tar.gz#sha256={0}\" data-requires-python=\">=3.8&#10;\">x</a>
         <a href=\"foo-1.0.tar.gz#sha256={0}\" data-requires-python=\"\">x</a>",
        sha('a')
    ));
    let rows = parse(&body, HTML);
    assert_eq!(filenames(&rows), ["foo-1.0.tar.gz"]);
    assert_eq!(rows[0].requires_python, None);
}

#[test]
fn reads_sizes_and_upload_times_loosely() {
    let json = |extra: serde_json::Value| {
        let body = json_page(serde_json::json!([json_file("foo-1.0.tar.gz", extra)]));
        let row = parse(&body, JSON).remove(0);
        (row.size, row.upload_time)
    };
    assert_eq!(json(serde_json::json!({ "size": 0 })), (Some(0), None));
    assert_eq!(json(serde_json::json!({ "size": -1 })).0, None);
    assert_eq!(json(serde_json::json!({ "size": 1.5 })).0, None);
    assert_eq!(json(serde_json::json!({ "size": "12" })).0, None);
    assert_eq!(json(serde_json::json!({ "size": 1e30 })).0, None);
    assert_eq!(
        json(serde_json::json!({ "upload-time": "2023-06-01T12:34:56+02:00" })).1,
        Some("2023-06-01T12:34:56+02:00".into())
    );
    assert_eq!(
        json(serde_json::json!({ "upload-time": "yesterday" })).1,
        None
    );
    assert_eq!(
        json(serde_json::json!({ "upload-time": "2023-06-01" })).1,
        None
    );
    assert_eq!(
        json(serde_json::json!({ "upload-time": 1_700_000_000 })).1,
        None
    );
}

#[test]
fn keeps_the_first_of_duplicate_filenames() {
    let body = html_page(&format!(
        "<a href=\"https://one.example/foo-1.0.tar.gz#sha256={}\">x</a>
         <a href=\"https://two.example/foo-1.0.tar.gz#sha256={}\">x</a>",
        sha('a'),
        sha('b')
    ));
    let rows = parse(&body, HTML);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].url, "https://one.example/foo-1.0.tar.gz");
    assert_eq!(rows[0].sha256, sha('a'));
}

#[test]
fn chooses_the_format_by_content_type() {
    let json = json_page(serde_json::json!([json_file(
        "foo-1.0.tar.gz",
        serde_json::json!({})
    )]));
    let html = html_page(&format!(
        "<a href=\"foo-1.0.tar.gz#sha256={}\">x</a>",
        sha('a')
    ));
    for content_type in [
        JSON,
        Some("application/json"),
        Some("Application/JSON; charset=utf-8"),
        Some("application/vnd.pypi.simple.latest+json"),
        None,
        Some(""),
    ] {
        assert_eq!(parse(&json, content_type).len(), 1, "{content_type:?}");
    }
    // Sniffed: a leading byte-order mark or whitespace still reads as JSON.
    assert_eq!(parse(&format!("\u{feff} \n{json}"), None).len(), 1);
    for content_type in [
        HTML,
        Some("text/html;charset=iso-8859-1"),
        Some("application/vnd.pypi.simple.v1+html"),
        None,
    ] {
        assert_eq!(parse(&html, content_type).len(), 1, "{content_type:?}");
    }
    for content_type in [
        "image/png",
        "text/plain",
        "application/octet-stream",
        "text/html-ish",
    ] {
        let err = parse_err(&html, Some(content_type));
        assert!(matches!(err, Error::BadGateway(_)), "{err:?}");
        assert!(err.to_string().contains(content_type), "{err}");
    }
}

#[test]
fn counts_the_file_limit_after_filtering_and_duplicates() {
    let link = |filename: &str| Link {
        url: Url::parse(&format!("https://h/{filename}")).unwrap(),
        filename: filename.into(),
        sha256: Some(sha('a')),
        requires_python: None,
        yanked: None,
        metadata_sha256: None,
        size: None,
        upload_time: None,
    };
    let links = || {
        [
            "foo-1.tar.gz",
            "bar-1.tar.gz",
            "foo-1.tar.gz",
            "foo-2.tar.gz",
        ]
        .map(link)
        .into()
    };
    assert_eq!(accept_all(links(), "foo", 2).unwrap().len(), 2);
    let err = accept_all(links(), "foo", 1).unwrap_err();
    assert_eq!(err.to_string(), "the upstream page lists more than 1 files");
}

#[test]
fn refuses_a_page_past_the_file_limit() {
    let mut anchors = String::with_capacity((MAX_FILES + 1) * 100);
    for i in 0..=MAX_FILES {
        anchors.push_str(&format!(
            "<a href=\"foo-{i}.tar.gz#sha256={}\">x</a>\n",
            sha('a')
        ));
    }
    let err = parse_err(&anchors, HTML);
    assert!(matches!(err, Error::BadGateway(_)), "{err:?}");
    assert!(err.to_string().contains("more than 100000 files"), "{err}");
}

/// xorshift64: deterministic noise without a dependency.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn parse_every_way(body: &[u8]) {
    for content_type in [JSON, HTML, None] {
        let _ = parse_page(body, content_type, &page_url(), "foo");
    }
}

#[test]
fn never_panics_on_noise_truncation_nesting_or_mutation() {
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    for _ in 0..300 {
        let len = noise.below(512);
        let bytes: Vec<u8> = (0..len).map(|_| noise.next() as u8).collect();
        parse_every_way(&bytes);
    }
    for depth in [200, 10_000, 100_000] {
        parse_every_way("[".repeat(depth).as_bytes());
        parse_every_way(format!("{{\"files\": [{}", "{\"a\": [".repeat(depth)).as_bytes());
        parse_every_way(format!("{{\"files\": [{}]}}", "[".repeat(depth)).as_bytes());
        parse_every_way("<div>".repeat(depth).as_bytes());
    }
    let json = json_page(serde_json::json!([
        json_file(
            "foo-1.0-py3-none-any.whl",
            serde_json::json!({
            "requires-python": ">=3.8", "core-metadata": { "sha256": sha('c') },
            "yanked": "why", "size": 10, "upload-time": "2024-01-01T00:00:00Z" })
        ),
        json_file(
            "foo-1.0.tar.gz",
            serde_json::json!({ "dist-info-metadata": true })
        ),
    ]));
    let html = html_page(&format!(
        "<base href=\"/x/\"><a href=\"../foo-1.0.tar.gz#sha256={0}\" data-requires-python=\"&gt;=3.8\" \
         data-yanked data-core-metadata=\"sha256={0}\">foo</a><script>x</script>\
         <a href=\"https://h/foo-1.0-py3-none-any.whl#md5=1&sha256={0}\">w</a>",
        sha('a')
    ));
    let alphabet = b"<>\"'&#;=/-_.%{}[]:,\\ \0\xff\xc3aA0";
    for valid in [json.into_bytes(), html.into_bytes()] {
        for cut in 0..valid.len() {
            parse_every_way(&valid[..cut]);
        }
        for _ in 0..2_000 {
            let mut bytes = valid.clone();
            for _ in 0..=noise.below(4) {
                let at = noise.below(bytes.len());
                let byte = alphabet[noise.below(alphabet.len())];
                match noise.below(3) {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            parse_every_way(&bytes);
        }
    }
}
