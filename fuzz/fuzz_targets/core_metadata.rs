//! Fuzzes the core-metadata (METADATA / PKG-INFO) parser: any bytes give a value or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = wheelhouse::python::metadata::parse(data);
});
