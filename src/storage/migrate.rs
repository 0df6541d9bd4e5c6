//! `storage migrate --to s3|local`: copies every blob from the store in use to the other one.
//! Each copy is whole or absent (a completed PUT, a rename), and blobs already in the target
//! with the right size are skipped, so an interrupted run is simply run again. Blobs never
//! change under their name, so copying while the server serves is safe; what is uploaded
//! during the copy is picked up by a second run (the README's procedure).

use std::fmt;
use std::io::Read;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use super::StorageConfig;
use crate::blobs::{BlobStore, Sha256Hex};
use crate::db::Db;

#[derive(Debug, Default)]
pub struct MigrateReport {
    pub copied: usize,
    pub bytes: u64,
    pub already_there: usize,
    /// Source blobs whose bytes do not match their name: not copied (`fsck` tells more).
    pub corrupt: Vec<String>,
    pub target: String,
}

impl fmt::Display for MigrateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "copied {} blobs ({} bytes) to {}, {} already there, {} corrupt",
            self.copied,
            self.bytes,
            self.target,
            self.already_there,
            self.corrupt.len()
        )
    }
}

/// (from, to) for `--to`: the local directory and the configured bucket, one way or the other.
pub fn stores(
    data_dir: &Path,
    storage: &StorageConfig,
    to: &str,
) -> anyhow::Result<(BlobStore, BlobStore)> {
    let local = BlobStore::open(data_dir)?;
    let bucket = BlobStore::open_configured(data_dir, &storage.as_s3()?)?;
    Ok(match to {
        "s3" => (local, bucket),
        _ => (bucket, local),
    })
}

/// Copies what `from` holds and `to` lacks, with a progress bar on a terminal and one line
/// per copied blob on stdout.
pub fn migrate(db: &Db, from: &BlobStore, to: &BlobStore) -> anyhow::Result<MigrateReport> {
    // Opening the database checks it is a Wheelhouse data directory (and upgrades it).
    drop(db.get()?);
    let blobs = from.list()?;
    let bar = ProgressBar::new(blobs.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} blobs, {msg} ({eta} left)")
            .expect("a valid template"),
    );
    let mut report = MigrateReport {
        target: to.describe(),
        ..Default::default()
    };
    for (sha, _) in &blobs {
        let size = from.size(sha)?;
        if size.is_some() && to.size(sha)? == size {
            report.already_there += 1;
            bar.inc(1);
            continue;
        }
        let copy = from.local_copy(sha)?;
        let (actual, bytes) = hash_file(copy.path())?;
        if &actual != sha {
            bar.println(format!("corrupt, not copied: {}", sha.as_str()));
            report.corrupt.push(sha.as_str().to_string());
            bar.inc(1);
            continue;
        }
        to.put_file(copy.path(), sha)?;
        report.copied += 1;
        report.bytes += bytes;
        println!("copied {} ({bytes} bytes)", sha.as_str());
        bar.set_message(format!("{} MB copied", report.bytes / 1_000_000));
        bar.inc(1);
    }
    bar.finish_and_clear();
    if !report.corrupt.is_empty() {
        anyhow::bail!("{report}: run `wheelhouse fsck` on the source store");
    }
    Ok(report)
}

fn hash_file(path: &Path) -> std::io::Result<(Sha256Hex, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    let hex = hex::encode(hasher.finalize());
    Ok((Sha256Hex::parse(&hex).expect("hex digests parse"), size))
}
