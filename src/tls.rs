//! TLS with rustls (ring, no OpenSSL): the certificate and key from PEM files, swapped on
//! SIGHUP for new handshakes while open connections carry on; a self-signed certificate for a
//! LAN box; and the plain-HTTP listener that only redirects to HTTPS.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use anyhow::{Context, bail};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

/// Where the certificate chain and its private key are (PEM), read again on every SIGHUP.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Hands every new handshake the current certificate; `reload` swaps it only for a good one.
#[derive(Debug)]
pub struct CertStore {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertStore {
    /// Loads the files now: a bad certificate or key stops start-up with the reason.
    pub fn open(files: TlsFiles) -> anyhow::Result<Arc<CertStore>> {
        let key = load(&files)?;
        Ok(Arc::new(CertStore {
            files,
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Reads the files again; on any problem the certificate in use stays, and the error says why.
    /// Returns the new certificate's SHA-256 fingerprint.
    pub fn reload(&self) -> anyhow::Result<String> {
        let key = load(&self.files)?;
        let fingerprint = fingerprint(&key.cert[0]);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        Ok(fingerprint)
    }

    /// Whether the certificate in use is valid for `host` (a DNS name, or an address; an IPv6
    /// one in brackets), as a client verifying it would judge.
    pub fn covers(&self, host: &str) -> bool {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let Ok(name) = ServerName::try_from(bare) else {
            return false;
        };
        let current = self.current();
        webpki::EndEntityCert::try_from(&current.cert[0])
            .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&name).is_ok())
    }

    /// The first DNS name (not a wildcard) the certificate in use names.
    pub fn first_dns_name(&self) -> Option<String> {
        let current = self.current();
        let cert = webpki::EndEntityCert::try_from(&current.cert[0]).ok()?;
        cert.valid_dns_names()
            .find(|name| !name.starts_with('*'))
            .map(str::to_owned)
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The fingerprint of the certificate in use.
    pub fn fingerprint(&self) -> String {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        fingerprint(&current.cert[0])
    }

    pub fn server_config(self: &Arc<CertStore>) -> anyhow::Result<rustls::ServerConfig> {
        Ok(
            rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_cert_resolver(self.clone()),
        )
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The chain and key from their files, checked to belong together.
fn load(files: &TlsFiles) -> anyhow::Result<CertifiedKey> {
    let cert_path = files.cert.display();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .with_context(|| format!("cannot read the TLS certificate {cert_path}"))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("the TLS certificate {cert_path} is not valid PEM"))?;
    if chain.is_empty() {
        bail!("{cert_path} holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)");
    }
    let key_path = files.key.display();
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("cannot read a PEM private key from {key_path}"))?;
    CertifiedKey::from_der(chain, key, &provider()).with_context(|| {
        format!(
            "the key {key_path} cannot serve the certificate {cert_path} (do they belong together?)"
        )
    })
}

/// SHA-256 of a certificate's DER bytes, as `openssl x509 -fingerprint -sha256` shows it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// Reloads the certificate on every SIGHUP for as long as the server runs. Registered before
/// the server says it listens, since SIGHUP's default action would end the process.
pub fn reload_on_sighup(store: Option<Arc<CertStore>>) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    actix_web::rt::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(store) = &store else {
                tracing::info!("SIGHUP: no TLS certificate to reload");
                continue;
            };
            match store.reload() {
                Ok(fingerprint) => {
                    tracing::info!("SIGHUP: now serving the TLS certificate {fingerprint}")
                }
                Err(e) => tracing::warn!(
                    "SIGHUP: kept the TLS certificate in use ({}): {e:#}",
                    store.fingerprint()
                ),
            }
        }
    });
    Ok(())
}

/// Where the plain-HTTP listener sends clients. Never to a host the client chose: a reflected
/// `Host` would make this server's own address bounce a client (or a cache in between) to any
/// site over HTTPS, with the path and query it was given.
#[derive(Debug, Clone)]
pub struct RedirectTarget {
    /// `external_url` (without a trailing slash), when set: the answer is it and the path.
    external_url: Option<String>,
    certificates: Arc<CertStore>,
    /// The HTTPS listener: its port, and its address when the certificate names no host.
    https: SocketAddr,
}

impl RedirectTarget {
    pub fn new(
        external_url: Option<String>,
        certificates: Arc<CertStore>,
        https: SocketAddr,
    ) -> RedirectTarget {
        RedirectTarget {
            external_url: external_url.map(|url| url.trim_end_matches('/').to_owned()),
            certificates,
            https,
        }
    }

    /// The HTTPS URL for `path` asked of the plain listener under `requested` (`Host`): the
    /// external URL; else the requested host if the certificate in use is valid for it (the
    /// operator's own names, so the client lands where the certificate holds); else the
    /// certificate's first DNS name; else the HTTPS listener's address.
    pub fn location(&self, requested: Option<&str>, path: &str) -> String {
        if let Some(external) = &self.external_url {
            return format!("{external}{path}");
        }
        let host = requested
            .and_then(crate::proxy::valid_host)
            .map(|host| strip_port(&host).to_owned())
            .filter(|host| self.certificates.covers(host))
            .or_else(|| self.certificates.first_dns_name())
            .unwrap_or_else(|| match self.https.ip() {
                ip if ip.is_unspecified() => "localhost".to_owned(),
                IpAddr::V6(v6) => format!("[{v6}]"),
                IpAddr::V4(v4) => v4.to_string(),
            });
        let port = match self.https.port() {
            443 => String::new(),
            port => format!(":{port}"),
        };
        format!("https://{host}{port}{path}")
    }
}

/// The whole answer of the plain-HTTP listener: the same URL over HTTPS. 308 keeps the method
/// and body, so even an upload sent to http:// lands (after the client repeats it over TLS).
pub async fn redirect_to_https(req: HttpRequest, target: Arc<RedirectTarget>) -> HttpResponse {
    let requested = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, target.location(requested, path)))
        .finish()
}

/// `pypi.lan:80` → `pypi.lan`, `[::1]:80` → `[::1]`, `pypi.lan` as it is.
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i)
            if !host[i..].contains(']') && host[i + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &host[..i]
        }
        _ => host,
    }
}

/// A self-signed certificate for `hosts` (names or addresses), valid for `days`: its PEM
/// and its key's PEM.
pub fn self_signed(hosts: &[String], days: u32) -> anyhow::Result<(String, String, String)> {
    use rcgen::{
        CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut params = CertificateParams::new(hosts.to_vec())
        .context("a --host is neither a DNS name nor an IP address")?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, hosts[0].clone());
    name.push(DnType::OrganizationName, "Wheelhouse (self-signed)");
    params.distinguished_name = name;
    let now = time::OffsetDateTime::now_utc();
    // A day of slack for clocks that lag behind the server's.
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(days.into());
    // A leaf, not a CA: rustls-based clients (uv) refuse a CA certificate as a server's; the
    // key identifiers satisfy OpenSSL's strict mode (Python 3.13 turns it on).
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().context("cannot generate a key")?;
    let cert = params
        .self_signed(&key)
        .context("cannot sign the certificate")?;
    Ok((cert.pem(), key.serialize_pem(), fingerprint(cert.der())))
}

/// Writes the certificate (world-readable: it holds no secret) and the key (owner only).
pub fn write_pair(cert_path: &Path, cert: &str, key_path: &Path, key: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    for path in [cert_path, key_path] {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
    }
    let write = |path: &Path, text: &str, mode: u32| -> anyhow::Result<()> {
        // Written beside the target and renamed: a server reloading on SIGHUP never reads half.
        let tmp = path.with_extension("pem.tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    };
    write(key_path, key, 0o600)?;
    write(cert_path, cert, 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_stripped_from_hosts() {
        assert_eq!(strip_port("pypi.lan:80"), "pypi.lan");
        assert_eq!(strip_port("pypi.lan"), "pypi.lan");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("10.0.0.2:8080"), "10.0.0.2");
    }

    #[test]
    fn a_reload_keeps_the_old_certificate_unless_the_new_one_is_good() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        let hosts = ["localhost".to_string(), "127.0.0.1".to_string()];
        let (cert, key, first) = self_signed(&hosts, 30).unwrap();
        write_pair(&files.cert, &cert, &files.key, &key).unwrap();
        let store = CertStore::open(files.clone()).unwrap();
        assert_eq!(store.fingerprint(), first);
        store.server_config().unwrap();

        let (other_cert, other_key, second) = self_signed(&hosts, 30).unwrap();
        // A key of another certificate: refused, the old one stays.
        std::fs::write(&files.cert, &other_cert).unwrap();
        let err = store.reload().unwrap_err();
        assert!(format!("{err:#}").contains("belong together"), "{err:#}");
        assert_eq!(store.fingerprint(), first);
        std::fs::write(&files.cert, "not a certificate").unwrap();
        assert!(store.reload().is_err());
        assert_eq!(store.fingerprint(), first);

        write_pair(&files.cert, &other_cert, &files.key, &other_key).unwrap();
        assert_eq!(store.reload().unwrap(), second);
        assert_eq!(store.fingerprint(), second);
        assert_ne!(first, second);
        assert_eq!(second.len(), 32 * 3 - 1);
    }
}
