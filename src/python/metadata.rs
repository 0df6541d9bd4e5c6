//! Core metadata (a wheel's METADATA, an sdist's PKG-INFO): the fields an index keeps and shows.

use crate::error::{Error, Result};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
