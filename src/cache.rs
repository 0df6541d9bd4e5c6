//! Rendered simple pages kept in memory while the database is unchanged, so the hot read path
//! (pip and uv asking for the same pages again and again) skips the database entirely.
//!
//! Validity comes from SQLite's `PRAGMA data_version` on a connection of the cache's own: it
//! changes whenever any other connection commits, whether this server's pool or a CLI command
//! in another process. Any change empties the cache, so a page is never stale and nothing has
//! to know which write touched which page (writes are rare; reads are not).

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::web::Bytes;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::access::IndexKind;
use crate::auth::{CredentialScheme, Credentials};
use crate::db;
use crate::error::Result;
use crate::format::Format;

/// Entries kept at most; past it the cache starts over (many distinct tokens, say).
const MAX_ENTRIES: usize = 4096;

/// Everything a simple page depends on besides the database.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    /// A digest of the presented credentials, every part of them (different callers may see
    /// different pages). A hit needs the very presentation that rendered the page, and how a
    /// presentation resolves depends only on the database (a change empties the cache) and the
    /// day (part of the key): so a cached page never answers a request that would be refused
    /// uncached, without a database query on the hot path.
    pub credentials: Option<[u8; 32]>,
    /// The UTC day: a token can expire at midnight without any write.
    pub day: String,
    pub kind: IndexKind,
    pub reference: String,
    /// `None` for the index, the requested name for a package page.
    pub package: Option<String>,
    pub format: Format,
    /// Links are relative to the requested URL, with or without its trailing slash.
    pub trailing_slash: bool,
}

/// A rendered page and its entity tag.
#[derive(Debug, Clone)]
pub struct CachedPage {
    pub body: Bytes,
    pub etag: String,
    /// The personal access token the page was rendered for: a hit is a use of it too.
    pub token_id: Option<i64>,
}

impl CachedPage {
    pub fn new(body: String, token_id: Option<i64>) -> CachedPage {
        let etag = format!("\"{}\"", hex::encode(Sha256::digest(body.as_bytes())));
        CachedPage {
            body: Bytes::from(body),
            etag,
            token_id,
        }
    }
}

struct Pages {
    generation: i64,
    entries: HashMap<PageKey, CachedPage>,
}

pub struct PageCache {
    watcher: Mutex<Connection>,
    pages: Mutex<Pages>,
}

impl PageCache {
    /// `watcher` must be a connection used for nothing else.
    pub fn new(watcher: Connection) -> PageCache {
        PageCache {
            watcher: Mutex::new(watcher),
            pages: Mutex::new(Pages {
                generation: i64::MIN,
                entries: HashMap::new(),
            }),
        }
    }

    /// The database's current generation (a cheap read of the WAL index, no table access).
    pub fn generation(&self) -> Result<i64> {
        let watcher = self.watcher.lock().unwrap_or_else(|e| e.into_inner());
        db::data_version(&watcher)
    }

    pub fn get(&self, key: &PageKey) -> Result<Option<CachedPage>> {
        let generation = self.generation()?;
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.generation != generation {
            pages.entries.clear();
            pages.generation = generation;
            crate::metrics::metrics().page_cache(false);
            return Ok(None);
        }
        let found = pages.entries.get(key).cloned();
        crate::metrics::metrics().page_cache(found.is_some());
        Ok(found)
    }

    /// Stores a page rendered from the database as it was at `generation` (read before the
    /// page's queries): if anything was written since, the page is not kept.
    pub fn put(&self, key: PageKey, generation: i64, page: CachedPage) {
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.generation != generation {
            return;
        }
        if pages.entries.len() >= MAX_ENTRIES {
            pages.entries.clear();
        }
        pages.entries.insert(key, page);
    }
}

/// A digest of credentials as presented, without keeping the secret: the header they came in,
/// whether a username came with them, and each field length-prefixed, so that no two
/// presentations share a key (`PRIVATE-TOKEN: s` is not `Basic :s`, `a` + `b\0c` is not
/// `a\0b` + `c`).
pub fn credentials_key(credentials: &Credentials) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"wheelhouse credentials v2");
    hasher.update([match credentials.scheme {
        CredentialScheme::Basic => 1u8,
        CredentialScheme::Bearer => 2,
        CredentialScheme::PrivateToken => 3,
    }]);
    match &credentials.username {
        None => hasher.update([0u8]),
        Some(name) => {
            hasher.update([1u8]);
            hasher.update((name.len() as u64).to_be_bytes());
            hasher.update(name.as_bytes());
        }
    }
    hasher.update((credentials.secret.len() as u64).to_be_bytes());
    hasher.update(credentials.secret.as_bytes());
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(package: &str) -> PageKey {
        PageKey {
            credentials: None,
            day: "2026-11-26".into(),
            kind: IndexKind::Project,
            reference: "1".into(),
            package: Some(package.into()),
            format: Format::Html,
            trailing_slash: true,
        }
    }

    #[test]
    fn no_two_presentations_share_a_credentials_key() {
        let creds = |scheme, username: Option<&str>, secret: &str| Credentials {
            scheme,
            username: username.map(str::to_owned),
            secret: secret.to_owned(),
        };
        let keys = [
            creds(CredentialScheme::PrivateToken, None, "s"),
            creds(CredentialScheme::Bearer, None, "s"),
            creds(CredentialScheme::Basic, Some(""), "s"),
            creds(CredentialScheme::Basic, Some("u"), "s"),
            creds(CredentialScheme::Basic, Some("a"), "b\0c"),
            creds(CredentialScheme::Basic, Some("a\0b"), "c"),
            creds(CredentialScheme::Basic, Some("ab"), "c"),
            creds(CredentialScheme::Basic, Some("a"), "bc"),
        ]
        .map(|c| credentials_key(&c));
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            keys[3],
            credentials_key(&creds(CredentialScheme::Basic, Some("u"), "s"))
        );
    }

    #[test]
    fn a_commit_by_another_connection_empties_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let db = crate::db::Db::open(&path, 2).unwrap();
        let cache = PageCache::new(Connection::open(&path).unwrap());
        assert!(cache.get(&key("a")).unwrap().is_none());
        let generation = cache.generation().unwrap();
        cache.put(key("a"), generation, CachedPage::new("page".into(), None));
        assert_eq!(cache.get(&key("a")).unwrap().unwrap().body, "page");
        assert!(cache.get(&key("b")).unwrap().is_none());

        db.get()
            .unwrap()
            .execute(
                "INSERT INTO audit_events (actor, action, target, created_at) VALUES ('t', 't', 't', 0)",
                [],
            )
            .unwrap();
        assert!(
            cache.get(&key("a")).unwrap().is_none(),
            "a write anywhere invalidates"
        );
        // A page rendered before that write is not kept.
        cache.put(key("a"), generation, CachedPage::new("stale".into(), None));
        assert!(cache.get(&key("a")).unwrap().is_none());
    }
}
