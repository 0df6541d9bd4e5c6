//! Fuzzes the archive readers (wheel, zip sdist, tar.gz sdist) with small bounds: any bytes give
//! metadata within the bounds or an error, never a panic or a hang.
#![no_main]

use std::io::Write;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use wheelhouse::python::DistKind;
use wheelhouse::python::archive::{Limits, core_metadata};

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(data).unwrap();
    let limits = Limits {
        max_metadata_bytes: 64 << 10,
        max_scan_bytes: 4 << 20,
        max_scan_ratio: 100,
        min_scan_bytes: 1 << 20,
        max_entries: 1000,
        max_duration: Duration::from_secs(2),
    };
    for kind in [DistKind::Wheel, DistKind::SdistZip, DistKind::SdistTarGz] {
        if let Ok(bytes) = core_metadata(file.path(), kind, &limits) {
            assert!(bytes.len() as u64 <= limits.max_metadata_bytes);
        }
    }
});
