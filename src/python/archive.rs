//! Reading core metadata out of uploaded archives, bounded in size, entries and time.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use super::DistKind;
use crate::error::{Error, Result};

/// Bounds that keep a hostile archive (a zip or tar bomb, a huge entry list) from costing
/// more than a moment of one thread.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest METADATA / PKG-INFO accepted.
    pub max_metadata_bytes: u64,
    /// Most bytes a `.tar.gz` may expand to while we look for its PKG-INFO...
    pub max_scan_bytes: u64,
    /// ...and at most this many times its own size (but always at least `min_scan_bytes`):
    /// source compresses a few times over, a tar bomb a thousand times.
    pub max_scan_ratio: u64,
    pub min_scan_bytes: u64,
    /// Most entries an archive may list.
    pub max_entries: usize,
    pub max_duration: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_metadata_bytes: 16 << 20,
            max_scan_bytes: 2 << 30,
            max_scan_ratio: 100,
            min_scan_bytes: 64 << 20,
            max_entries: 200_000,
            max_duration: Duration::from_secs(20),
        }
    }
}

/// Returns the METADATA of a wheel or the PKG-INFO of an sdist, byte for byte.
pub fn core_metadata(path: &Path, kind: DistKind, limits: &Limits) -> Result<Vec<u8>> {
    let file = File::open(path)?;
    match kind {
        DistKind::Wheel => from_zip(file, limits, is_wheel_metadata, "a .dist-info/METADATA"),
        DistKind::SdistZip => from_zip(file, limits, is_sdist_pkg_info, "a top-level PKG-INFO"),
        DistKind::SdistTarGz => from_tar_gz(file, limits),
    }
}

/// `NAME-VERSION.dist-info/METADATA` at the top of a wheel.
fn is_wheel_metadata(entry: &str) -> bool {
    matches!(top_level_split(entry), Some((dir, "METADATA")) if dir.ends_with(".dist-info"))
}

/// `NAME-VERSION/PKG-INFO`: the sdist's own metadata, not an `.egg-info` copy deeper down.
fn is_sdist_pkg_info(entry: &str) -> bool {
    matches!(top_level_split(entry), Some((dir, "PKG-INFO")) if !dir.is_empty())
}

/// Splits `dir/rest`, ignoring a leading `./` that some archivers write.
fn top_level_split(entry: &str) -> Option<(&str, &str)> {
    entry.strip_prefix("./").unwrap_or(entry).split_once('/')
}

fn from_zip(
    file: File,
    limits: &Limits,
    is_metadata: fn(&str) -> bool,
    what: &str,
) -> Result<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| Error::bad_request(format!("the file is not a readable zip archive: {e}")))?;
    if archive.len() > limits.max_entries {
        return Err(Error::bad_request(format!(
            "the archive lists {} entries, more than the {} allowed",
            archive.len(),
            limits.max_entries
        )));
    }
    let found: Vec<String> = archive
        .file_names()
        .filter_map(|name| name.ok())
        .filter(|name| is_metadata(name))
        .map(|name| name.into_owned())
        .collect();
    let entry_name = match found.as_slice() {
        [one] => one.clone(),
        [] => return Err(Error::bad_request(format!("the archive has no {what}"))),
        _ => {
            return Err(Error::bad_request(format!(
                "the archive has {} candidates for {what}; expected exactly one",
                found.len()
            )));
        }
    };
    let entry = archive
        .by_name(&entry_name)
        .map_err(|e| Error::bad_request(format!("{entry_name} cannot be read: {e}")))?;
    read_bounded(entry, limits.max_metadata_bytes, &entry_name)
}

fn from_tar_gz(file: File, limits: &Limits) -> Result<Vec<u8>> {
    let started = Instant::now();
    let compressed = file.metadata()?.len();
    let budget = compressed.saturating_mul(limits.max_scan_ratio).clamp(
        limits.min_scan_bytes,
        limits.max_scan_bytes.max(limits.min_scan_bytes),
    );
    let expanded = BoundedReader {
        inner: flate2::read::GzDecoder::new(io::BufReader::new(file)),
        remaining: budget,
    };
    let mut archive = tar::Archive::new(expanded);
    let entries = archive.entries().map_err(bad_tar)?;
    for (index, entry) in entries.enumerate() {
        if index >= limits.max_entries {
            return Err(Error::bad_request(format!(
                "the sdist has more than {} entries before its PKG-INFO",
                limits.max_entries
            )));
        }
        if started.elapsed() > limits.max_duration {
            return Err(Error::bad_request("the sdist took too long to read"));
        }
        let entry = entry.map_err(bad_tar)?;
        let path = entry.path().map_err(bad_tar)?;
        let path = path.to_string_lossy().into_owned();
        if entry.header().entry_type().is_file() && is_sdist_pkg_info(&path) {
            return read_bounded(entry, limits.max_metadata_bytes, &path);
        }
    }
    Err(Error::bad_request("the sdist has no top-level PKG-INFO"))
}

fn bad_tar(err: io::Error) -> Error {
    if err.kind() == io::ErrorKind::FileTooLarge {
        Error::bad_request(format!("the sdist {err}"))
    } else {
        Error::bad_request(format!("the file is not a readable .tar.gz archive: {err}"))
    }
}

/// Reads at most `max` bytes; an entry that claims or turns out to be larger is refused.
fn read_bounded(entry: impl Read, max: u64, name: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    entry
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::bad_request(format!("{name} cannot be read: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(Error::bad_request(format!(
            "{name} is larger than {max} bytes"
        )));
    }
    Ok(bytes)
}

/// Fails once more than the allowed bytes were decompressed: the defence against tar bombs.
struct BoundedReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for BoundedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.remaining = self.remaining.checked_sub(n as u64).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::FileTooLarge,
                "expands past the size limit before its PKG-INFO",
            )
        })?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_file(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut zip = zip::ZipWriter::new(file.reopen().unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.finish().unwrap();
        file
    }

    fn tar_gz_file(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let gz = flate2::write::GzEncoder::new(file.reopen().unwrap(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (name, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, *data).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
        file
    }

    #[test]
    fn reads_wheel_metadata() {
        let f = zip_file(&[
            ("pkg/__init__.py", b""),
            ("pkg-1.0.dist-info/METADATA", b"Name: pkg\nVersion: 1.0\n"),
            ("pkg-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\n"),
        ]);
        let bytes = core_metadata(f.path(), DistKind::Wheel, &Limits::default()).unwrap();
        assert_eq!(bytes, b"Name: pkg\nVersion: 1.0\n");
    }

    #[test]
    fn wheel_needs_exactly_one_metadata() {
        let none = zip_file(&[("pkg/__init__.py", b"")]);
        let two = zip_file(&[
            ("a-1.dist-info/METADATA", b"x"),
            ("b-1.dist-info/METADATA", b"y"),
        ]);
        let nested = zip_file(&[("x/a-1.dist-info/METADATA", b"x")]);
        for f in [none, two, nested] {
            assert!(core_metadata(f.path(), DistKind::Wheel, &Limits::default()).is_err());
        }
    }

    #[test]
    fn rejects_non_archives() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"this is not a zip").unwrap();
        for kind in [DistKind::Wheel, DistKind::SdistZip, DistKind::SdistTarGz] {
            let err = core_metadata(f.path(), kind, &Limits::default()).unwrap_err();
            assert!(matches!(err, Error::BadRequest(_)), "{kind:?}: {err}");
        }
    }

    #[test]
    fn bounds_metadata_size_in_zip_bomb() {
        let huge = vec![b'a'; 4 << 20];
        let f = zip_file(&[("a-1.dist-info/METADATA", &huge)]);
        let limits = Limits {
            max_metadata_bytes: 1 << 20,
            ..Limits::default()
        };
        let err = core_metadata(f.path(), DistKind::Wheel, &limits).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    #[test]
    fn reads_sdist_pkg_info_not_egg_info() {
        let f = tar_gz_file(&[
            ("pkg-1.0/src/pkg.egg-info/PKG-INFO", b"Name: wrong\n"),
            ("pkg-1.0/PKG-INFO", b"Name: pkg\nVersion: 1.0\n"),
        ]);
        let bytes = core_metadata(f.path(), DistKind::SdistTarGz, &Limits::default()).unwrap();
        assert_eq!(bytes, b"Name: pkg\nVersion: 1.0\n");
        let z = zip_file(&[("pkg-1.0/PKG-INFO", b"Name: pkg\nVersion: 1.0\n")]);
        assert!(core_metadata(z.path(), DistKind::SdistZip, &Limits::default()).is_ok());
    }

    #[test]
    fn reads_odd_but_valid_archives() {
        // Stored (uncompressed) entries, directory entries and CRLF metadata.
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut zip = zip::ZipWriter::new(file.reopen().unwrap());
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.add_directory("Odd_Name-1.0.dist-info/", stored)
            .unwrap();
        zip.start_file("Odd_Name-1.0.dist-info/METADATA", stored)
            .unwrap();
        zip.write_all(b"Name: Odd.Name\r\nVersion: 1.0\r\n")
            .unwrap();
        zip.finish().unwrap();
        let bytes = core_metadata(file.path(), DistKind::Wheel, &Limits::default()).unwrap();
        assert_eq!(bytes, b"Name: Odd.Name\r\nVersion: 1.0\r\n");

        // `./` prefixes, a long (PAX/GNU) path before PKG-INFO, and latin-1 text inside.
        let long = format!("pkg-1.0/{}/x.py", "deep".repeat(40));
        let f = tar_gz_file(&[
            (&long, b""),
            (
                "./pkg-1.0/PKG-INFO",
                b"Name: pkg\nVersion: 1.0\nAuthor: Jos\xe9\n",
            ),
        ]);
        let bytes = core_metadata(f.path(), DistKind::SdistTarGz, &Limits::default()).unwrap();
        let meta = crate::python::metadata::parse(&bytes).unwrap();
        assert_eq!(meta.author.as_deref(), Some("José"));
    }

    #[test]
    fn bounds_tar_bomb_expansion() {
        let filler = vec![0u8; 3 << 20];
        let f = tar_gz_file(&[
            ("pkg-1.0/big.bin", &filler),
            ("pkg-1.0/PKG-INFO", b"Name: p\n"),
        ]);
        let limits = Limits {
            max_scan_bytes: 1 << 20,
            min_scan_bytes: 1 << 20,
            ..Limits::default()
        };
        let err = core_metadata(f.path(), DistKind::SdistTarGz, &limits).unwrap_err();
        assert!(err.to_string().contains("size limit"), "{err}");
    }
}
