//! Fuzzes PEP 691 content negotiation: any Accept header picks one of the offered formats.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|accept: &str| {
    let _ = wheelhouse::format::choose(Some(accept));
});
