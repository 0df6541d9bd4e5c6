//! `wheelhouse tls`: a self-signed certificate for a LAN box, and the lines that make each
//! client trust it.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum TlsCommand {
    /// Write a private key and a self-signed certificate for these host names and addresses,
    /// and print its SHA-256 fingerprint and how to make pip, uv, twine and poetry trust it.
    SelfSigned {
        /// A DNS name or IP address clients use for this server (repeat for each).
        #[arg(long = "host", required = true)]
        hosts: Vec<String>,
        /// Where to write cert.pem and key.pem [default: DATA_DIR/tls].
        #[arg(long)]
        out_dir: Option<PathBuf>,
        /// Days the certificate is valid (825 is the most Apple's clients accept).
        #[arg(long, default_value_t = 825)]
        days: u32,
        /// Replace a certificate and key already there.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(data_dir: &Path, command: TlsCommand) -> anyhow::Result<()> {
    let TlsCommand::SelfSigned {
        hosts,
        out_dir,
        days,
        force,
    } = command;
    if days == 0 {
        bail!("--days must be at least 1");
    }
    let dir = out_dir.unwrap_or_else(|| data_dir.join("tls"));
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    for path in [&cert_path, &key_path] {
        if path.exists() && !force {
            bail!(
                "{} exists; pass --force to replace it (then SIGHUP a running server)",
                path.display()
            );
        }
    }
    let (cert, key, fingerprint) = crate::tls::self_signed(&hosts, days)?;
    crate::tls::write_pair(&cert_path, &cert, &key_path, &key)?;
    print!(
        "{}",
        instructions(&hosts, days, &cert_path, &key_path, &fingerprint)
    );
    Ok(())
}

fn instructions(hosts: &[String], days: u32, cert: &Path, key: &Path, fp: &str) -> String {
    let (cert, key) = (cert.display(), key.display());
    let host = &hosts[0];
    format!(
        "\
Wrote the certificate {cert} and its private key {key}
for {hosts}, valid for {days} days.
SHA-256 fingerprint: {fp}

Serve HTTPS with it (or set tls_cert and tls_key in the config file):
  wheelhouse serve --listen 0.0.0.0:8443 --tls-cert {cert} --tls-key {key}

Copy {cert} (it holds no secret) to each client machine and make the clients trust it:
  pip, in pip.conf ([global] section):
    cert = {cert}
  pip, or in the environment:
    export PIP_CERT={cert}
  uv:
    export SSL_CERT_FILE={cert}
  uv, or with the system's store (Debian/Ubuntu):
    cp {cert} /usr/local/share/ca-certificates/wheelhouse.crt && update-ca-certificates
    export UV_NATIVE_TLS=1
  twine:
    twine upload --cert {cert} --repository-url https://{host}:8443/api/v4/projects/ID/packages/pypi dist/*
  poetry (wheelhouse being the source's name in `poetry source add wheelhouse URL`):
    poetry config certificates.wheelhouse.cert {cert}
Check the fingerprint a client sees against the one above:
  openssl s_client -connect {host}:8443 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256
",
        hosts = hosts.join(", "),
    )
}
