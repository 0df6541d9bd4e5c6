//! Rendered simple pages and Warehouse JSON kept in memory while the database is unchanged, so
//! the hot read path (pip and uv asking for the same pages again and again, Renovate and Poetry
//! for the same JSON) skips the database entirely.
//!
//! Validity comes from SQLite's `PRAGMA data_version` on a connection of the cache's own: it
//! changes whenever any other connection commits, whether this server's pool or a CLI command
//! in another process. Any change empties the cache, so a page is never stale and nothing has
//! to know which write touched which page (writes are rare; reads are not).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::web::Bytes;
use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::access::IndexKind;
use crate::auth::{CredentialScheme, Credentials};
use crate::db;
use crate::encoding::{self, Coding};
use crate::error::Result;
use crate::format::Format;

/// Entries kept at most; past it the cache starts over (many distinct tokens, say).
const MAX_ENTRIES: usize = 4096;
/// Bytes of page bodies kept at most, every coding counted (a large page is about 230 KB as
/// it is, 60 KB gzipped, 55 KB in zstd): past it the cache starts over too, so the compressed
/// copies cannot grow the cache beyond this whatever the pages' sizes.
pub const MAX_BYTES: usize = 128 << 20;

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
    /// `Some` for the Warehouse JSON of `package` (whose links are absolute), `None` for a
    /// simple page.
    pub warehouse: Option<WarehouseKey>,
}

/// What a Warehouse JSON answer depends on besides the package's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WarehouseKey {
    /// `None` for the project's JSON (latest release), the requested version otherwise.
    pub version: Option<String>,
    /// The API root its links start with: from the configured external URL, else from the
    /// request (its host and the path's prefix as sent).
    pub base: String,
}

/// A rendered page with its entity tag, and the same page in each compressed coding that
/// makes it smaller (compressed once, when the page is cached, never per request).
#[derive(Debug)]
pub struct CachedPage {
    identity: Representation,
    compressed: Vec<(Coding, Representation)>,
    /// The personal access token the page was rendered for: a hit is a use of it too.
    pub token_id: Option<i64>,
}

/// A page's bytes in one coding, and that coding's own entity tag.
#[derive(Debug)]
pub struct Representation {
    pub body: Bytes,
    pub etag: String,
}

impl CachedPage {
    /// The page as rendered, in no coding yet.
    pub fn new(body: String, token_id: Option<i64>) -> CachedPage {
        let etag = format!("\"{}\"", hex::encode(Sha256::digest(body.as_bytes())));
        CachedPage {
            identity: Representation {
                body: Bytes::from(body),
                etag,
            },
            compressed: Vec::new(),
            token_id,
        }
    }

    /// Adds the page in each of `codings` that makes it smaller. CPU work: run it on the
    /// blocking pool.
    pub fn compress(mut self, codings: &[Coding]) -> CachedPage {
        if self.identity.body.len() < encoding::MIN_COMPRESS {
            return self;
        }
        for &coding in codings {
            if let Some(body) = coding.compress(&self.identity.body) {
                let tag = self.identity.etag.trim_end_matches('"');
                let etag = format!("{tag}{}\"", coding.etag_suffix());
                self.compressed
                    .push((coding, Representation { body, etag }));
            }
        }
        self
    }

    /// The representation an `Accept-Encoding` header asks for, among those held.
    pub fn select(&self, accept_encoding: Option<&str>) -> (Coding, &Representation) {
        let coding = encoding::negotiate(accept_encoding, |coding| {
            self.compressed.iter().any(|(held, _)| *held == coding)
        });
        let held = self.compressed.iter().find(|(held, _)| *held == coding);
        match held {
            Some((coding, representation)) => (*coding, representation),
            None => (Coding::Identity, &self.identity),
        }
    }

    /// Bytes of page bodies held, every coding counted.
    pub fn size(&self) -> usize {
        let compressed: usize = self.compressed.iter().map(|(_, r)| r.body.len()).sum();
        self.identity.body.len() + compressed
    }
}

struct Pages {
    generation: i64,
    entries: HashMap<PageKey, Arc<CachedPage>>,
    /// The sum of the entries' sizes.
    bytes: usize,
}

pub struct PageCache {
    watcher: Mutex<Connection>,
    pages: Mutex<Pages>,
    /// The request-derived origins whose pages are kept (see [`PageCache::admit_host`]).
    hosts: Mutex<std::collections::HashSet<String>>,
}

/// Request-derived origins (`http://HOST:PORT`) whose pages are kept, at most: a LAN server
/// is reached by a few names; a client inventing a Host per request is not served from, nor
/// allowed to fill, the cache.
const MAX_HOSTS: usize = 16;

impl PageCache {
    /// `watcher` must be a connection used for nothing else.
    pub fn new(watcher: Connection) -> PageCache {
        PageCache {
            hosts: Mutex::new(std::collections::HashSet::new()),
            watcher: Mutex::new(watcher),
            pages: Mutex::new(Pages {
                generation: i64::MIN,
                entries: HashMap::new(),
                bytes: 0,
            }),
        }
    }

    /// Whether pages whose links start with `origin` (taken from the request, not configured)
    /// may be kept: the first [`MAX_HOSTS`] origins seen are, any other is not.
    pub fn admit_host(&self, origin: &str) -> bool {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts.contains(origin) || (hosts.len() < MAX_HOSTS && hosts.insert(origin.to_owned()))
    }

    /// The database's current generation (a cheap read of the WAL index, no table access).
    pub fn generation(&self) -> Result<i64> {
        let watcher = self.watcher.lock().unwrap_or_else(|e| e.into_inner());
        db::data_version(&watcher)
    }

    pub fn get(&self, key: &PageKey) -> Result<Option<Arc<CachedPage>>> {
        let generation = self.generation()?;
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.generation != generation {
            pages.entries.clear();
            pages.bytes = 0;
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
    /// Keeps a page rendered for `key`'s credentials, or (`resolved` false: credentials that
    /// resolved to no one, junk on a public index, got the anonymous answer) under the
    /// anonymous key, so made-up credentials cannot fill the cache with keys of their own and
    /// push out everyone else's pages.
    pub fn put_for(&self, key: PageKey, resolved: bool, generation: i64, page: Arc<CachedPage>) {
        let key = match resolved {
            true => key,
            false => PageKey {
                credentials: None,
                ..key
            },
        };
        self.put(key, generation, page);
    }

    pub fn put(&self, key: PageKey, generation: i64, page: Arc<CachedPage>) {
        let size = page.size();
        let mut pages = self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if pages.generation != generation || size > MAX_BYTES {
            return;
        }
        if let Some(old) = pages.entries.remove(&key) {
            pages.bytes -= old.size();
        }
        if pages.entries.len() >= MAX_ENTRIES || pages.bytes + size > MAX_BYTES {
            pages.entries.clear();
            pages.bytes = 0;
        }
        pages.bytes += size;
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
            warehouse: None,
        }
    }

    fn page(body: &str) -> Arc<CachedPage> {
        Arc::new(CachedPage::new(body.into(), None).compress(&encoding::COMPRESSED))
    }

    #[test]
    fn only_the_first_few_request_origins_are_kept() {
        let cache = PageCache::new(Connection::open_in_memory().unwrap());
        for i in 0..MAX_HOSTS {
            assert!(cache.admit_host(&format!("http://host{i}:8080")));
        }
        assert!(!cache.admit_host("http://invented.example:8080"));
        assert!(
            cache.admit_host("http://host0:8080"),
            "a kept origin stays kept"
        );
    }

    #[test]
    fn each_coding_has_its_own_entity_tag() {
        let body = "<a href=\"../../files/x/p-1.0.tar.gz\">p-1.0.tar.gz</a><br/>\n".repeat(50);
        let page = page(&body);
        let (coding, identity) = page.select(None);
        assert_eq!(
            (coding, identity.body.as_ref()),
            (Coding::Identity, body.as_bytes())
        );
        let (coding, gzip) = page.select(Some("gzip, deflate"));
        assert_eq!(coding, Coding::Gzip);
        assert_eq!(
            gzip.etag,
            format!("{}-gz\"", identity.etag.trim_end_matches('"'))
        );
        let (coding, zstd) = page.select(Some("gzip, zstd"));
        assert_eq!(
            (coding, zstd.etag.ends_with("-zst\"")),
            (Coding::Zstd, true)
        );
        assert_eq!(page.size(), body.len() + gzip.body.len() + zstd.body.len());
        // A small page is only ever sent as it is.
        let small = self::page("<a>x</a>");
        assert_eq!(small.select(Some("gzip")).0, Coding::Identity);
        assert_eq!(small.size(), 8);
    }

    #[test]
    fn the_cache_holds_a_bounded_number_of_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let _db = crate::db::Db::open(&path, 2).unwrap();
        let cache = PageCache::new(Connection::open(&path).unwrap());
        let generation = cache.generation().unwrap();
        assert!(cache.get(&key("a")).unwrap().is_none());
        let big = || Arc::new(CachedPage::new("x".repeat(MAX_BYTES / 3), None));
        for name in ["a", "b", "c"] {
            cache.put(key(name), generation, big());
        }
        assert!(cache.get(&key("a")).unwrap().is_some());
        cache.put(key("c"), generation, big());
        assert!(
            cache.get(&key("a")).unwrap().is_some(),
            "a page replaced is not counted twice"
        );
        cache.put(key("d"), generation, big());
        assert!(
            cache.get(&key("a")).unwrap().is_none(),
            "over the bound: started over"
        );
        assert!(cache.get(&key("d")).unwrap().is_some());
        let huge = Arc::new(CachedPage::new("x".repeat(MAX_BYTES + 1), None));
        cache.put(key("e"), generation, huge);
        assert!(
            cache.get(&key("e")).unwrap().is_none(),
            "larger than the bound: not kept"
        );
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
        cache.put(key("a"), generation, page("page"));
        let hit = cache.get(&key("a")).unwrap().unwrap();
        assert_eq!(hit.select(None).1.body, "page");
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
        cache.put(key("a"), generation, page("stale"));
        assert!(cache.get(&key("a")).unwrap().is_none());
    }
}
