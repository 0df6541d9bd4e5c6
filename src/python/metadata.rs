//! Core metadata (a wheel's METADATA, an sdist's PKG-INFO): the fields an index keeps and shows.

use crate::error::{Error, Result};
use crate::python::filename::DistKind;

/// The fields of one distribution's core metadata that Wheelhouse stores and serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMetadata {
    pub metadata_version: Option<String>,
    pub name: String,
    pub version: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub description_content_type: Option<String>,
    pub keywords: Option<String>,
    pub author: Option<String>,
    pub author_email: Option<String>,
    pub maintainer: Option<String>,
    pub maintainer_email: Option<String>,
    pub license: Option<String>,
    pub home_page: Option<String>,
    pub requires_python: Option<String>,
    pub classifiers: Vec<String>,
    pub requires_dist: Vec<String>,
    pub project_urls: Vec<String>,
}

/// Parses the RFC 822-style header block of core metadata; the body, when present, is the
/// description (metadata 2.1 and later).
pub fn parse(bytes: &[u8]) -> Result<CoreMetadata> {
    let (headers, body_offset) = mailparse::parse_headers(bytes)
        .map_err(|e| Error::bad_request(format!("the core metadata cannot be parsed: {e}")))?;
    let mut meta = CoreMetadata::default();
    for header in &headers {
        let value = header.get_value().trim().to_string();
        let key = header.get_key_ref().to_ascii_lowercase();
        let single = |slot: &mut Option<String>| {
            if slot.is_none() && !value.is_empty() {
                *slot = Some(value.clone());
            }
        };
        match key.as_str() {
            "metadata-version" => single(&mut meta.metadata_version),
            "name" => meta.name = value.clone(),
            "version" => meta.version = value.clone(),
            "summary" => single(&mut meta.summary),
            "description" => single(&mut meta.description),
            "description-content-type" => single(&mut meta.description_content_type),
            "keywords" => single(&mut meta.keywords),
            "author" => single(&mut meta.author),
            "author-email" => single(&mut meta.author_email),
            "maintainer" => single(&mut meta.maintainer),
            "maintainer-email" => single(&mut meta.maintainer_email),
            "license" => single(&mut meta.license),
            "home-page" => single(&mut meta.home_page),
            "requires-python" => single(&mut meta.requires_python),
            "classifier" => meta.classifiers.push(value),
            "requires-dist" => meta.requires_dist.push(value),
            "project-url" => meta.project_urls.push(value),
            _ => {}
        }
    }
    let body = String::from_utf8_lossy(&bytes[body_offset.min(bytes.len())..]);
    if !body.trim().is_empty() {
        meta.description = Some(body.into_owned());
    }
    if meta.name.is_empty() {
        return Err(Error::bad_request("the core metadata has no Name field"));
    }
    if meta.version.is_empty() {
        return Err(Error::bad_request("the core metadata has no Version field"));
    }
    Ok(meta)
}

/// Fields an installer resolves with: when an sdist leaves one of them `Dynamic`, the wheel it
/// builds may say otherwise than its PKG-INFO (PEP 643).
const RESOLUTION_FIELDS: [&str; 3] = ["requires-dist", "requires-python", "provides-extra"];

/// Whether a file's extracted metadata may be offered as its core metadata (PEP 658/714), which
/// pip, uv, poetry and pdm then resolve with instead of the file. A wheel's METADATA always is
/// its metadata. An sdist's PKG-INFO only when it is metadata 2.2 or later (PEP 643) and none
/// of the resolution fields is `Dynamic`: older PKG-INFO promises nothing (setuptools writes
/// it without the dependencies a setup.py decides at build time), and trusting it installs a
/// package without its dependencies.
pub fn offered_as_core_metadata(kind: DistKind, bytes: &[u8]) -> bool {
    if kind == DistKind::Wheel {
        return true;
    }
    let Ok((headers, _)) = mailparse::parse_headers(bytes) else {
        return false;
    };
    let mut version = None;
    for header in &headers {
        let key = header.get_key_ref();
        let value = header.get_value();
        if key.eq_ignore_ascii_case("metadata-version") {
            version.get_or_insert(value);
        } else if key.eq_ignore_ascii_case("dynamic")
            && RESOLUTION_FIELDS
                .iter()
                .any(|field| value.trim().eq_ignore_ascii_case(field))
        {
            return false;
        }
    }
    version.is_some_and(|v| at_least_2_2(v.trim()))
}

/// The most header block read for one field: headers come before the description, so a
/// field is found within this much of any real metadata, however long the description.
const MAX_HEADER_BLOCK: u64 = 256 << 10;

/// The first value of the header `field` (case-insensitive) in the core metadata file at
/// `path`, reading no further than the header block.
pub fn read_field(path: &std::path::Path, field: &str) -> std::io::Result<Option<String>> {
    use std::io::{BufRead, Read};
    let mut reader = std::io::BufReader::new(std::fs::File::open(path)?).take(MAX_HEADER_BLOCK);
    let mut block = Vec::new();
    loop {
        let read = reader.read_until(b'\n', &mut block)?;
        let at_end = block.ends_with(b"\n\n") || block.ends_with(b"\n\r\n");
        if read == 0 || at_end {
            break;
        }
    }
    Ok(header_value(&block, field))
}

fn header_value(block: &[u8], field: &str) -> Option<String> {
    let (headers, _) = mailparse::parse_headers(block).ok()?;
    headers
        .iter()
        .find(|h| h.get_key_ref().eq_ignore_ascii_case(field))
        .map(|h| h.get_value().trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `Metadata-Version` is MAJOR.MINOR with integer parts (so 2.10 is after 2.2).
fn at_least_2_2(version: &str) -> bool {
    let mut parts = version.split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next().unwrap_or(Ok(0)), parts.next()) {
        (Some(Ok(major)), Ok(minor), None) => (major, minor) >= (2, 2),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_field_from_the_header_block_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("METADATA");
        let text = "Metadata-Version: 2.4\nName: a\nVersion: 1\n\
                    License-Expression: MIT OR Apache-2.0\n\nLicense-Expression: body\n";
        std::fs::write(&path, text).unwrap();
        let field = |name| read_field(&path, name).unwrap();
        assert_eq!(
            field("license-expression").as_deref(),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(field("Summary"), None);
        std::fs::write(
            &path,
            "Metadata-Version: 2.1\nName: a\n\nLicense-Expression: x\n",
        )
        .unwrap();
        assert_eq!(
            field("License-Expression"),
            None,
            "the description is not read"
        );
        std::fs::write(&path, "not: metadata: at all").unwrap();
        assert_eq!(field("License-Expression"), None);
    }

    #[test]
    fn parses_fields_and_body() {
        let text = "Metadata-Version: 2.1\nName: My.Pkg\nVersion: 1.0\nSummary: A summary\n\
                    Author: Zoë\nRequires-Python: >=3.8\nRequires-Dist: requests (>=2)\n\
                    Requires-Dist: idna; extra == \"x\"\nClassifier: A :: B\n\
                    Project-URL: Home, https://example.org\n\
                    Description-Content-Type: text/markdown\n\n# Title\n\nBody text.\n";
        let meta = parse(text.as_bytes()).unwrap();
        assert_eq!(meta.name, "My.Pkg");
        assert_eq!(meta.version, "1.0");
        assert_eq!(meta.summary.as_deref(), Some("A summary"));
        assert_eq!(meta.author.as_deref(), Some("Zoë"));
        assert_eq!(meta.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(
            meta.requires_dist,
            ["requests (>=2)", "idna; extra == \"x\""]
        );
        assert_eq!(meta.classifiers, ["A :: B"]);
        assert_eq!(meta.project_urls, ["Home, https://example.org"]);
        assert_eq!(meta.description.as_deref(), Some("# Title\n\nBody text.\n"));
    }

    #[test]
    fn accepts_crlf_and_folded_headers() {
        let text = "Name: a\r\nVersion: 2\r\nSummary: one\r\n  two\r\n";
        let meta = parse(text.as_bytes()).unwrap();
        assert_eq!(meta.summary.as_deref(), Some("one two"));
        assert_eq!(meta.description, None);
    }

    #[test]
    fn requires_name_and_version() {
        assert!(
            parse(b"Version: 1\n")
                .unwrap_err()
                .to_string()
                .contains("no Name")
        );
        assert!(
            parse(b"Name: a\n")
                .unwrap_err()
                .to_string()
                .contains("no Version")
        );
        assert!(parse(b"").is_err());
    }

    #[test]
    fn sdist_metadata_is_offered_only_when_static_per_pep_643() {
        let offered = |text: &str| offered_as_core_metadata(DistKind::SdistTarGz, text.as_bytes());
        // As setuptools writes them: 2.1 without Dynamic; 75.x with lower-case Dynamic.
        assert!(!offered(
            "Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Dist: b\n"
        ));
        assert!(!offered(
            "Metadata-Version: 2.2\nName: a\nVersion: 1\nDynamic: requires-dist\n"
        ));
        assert!(!offered(
            "Metadata-Version: 2.4\nName: a\nVersion: 1\nDynamic: Requires-Python\n"
        ));
        assert!(!offered(
            "Metadata-Version: 2.3\nName: a\nVersion: 1\nDynamic: provides-extra\n"
        ));
        assert!(offered(
            "Metadata-Version: 2.2\nName: a\nVersion: 1\nDynamic: license-file\n"
        ));
        assert!(offered(
            "Metadata-Version: 2.4\nName: a\nVersion: 1\nRequires-Dist: b\n"
        ));
        assert!(offered("Metadata-Version: 2.10\nName: a\nVersion: 1\n"));
        assert!(!offered("Name: a\nVersion: 1\n"));
        assert!(!offered("Metadata-Version: two\nName: a\nVersion: 1\n"));
        assert!(!offered("Metadata-Version: 1.2.3\nName: a\nVersion: 1\n"));
        assert!(offered_as_core_metadata(
            DistKind::Wheel,
            b"Metadata-Version: 2.1\n"
        ));
    }
}
