//! Fuzzes filename parsing and the name/version match: never panics, and an accepted name is
//! always safe to use as a path segment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wheelhouse::python::{DistName, Filename, Version};

fuzz_target!(|input: (&str, &str, &str)| {
    let (file, name, version) = input;
    if let Ok(parsed) = Filename::parse(file) {
        let s = parsed.as_str();
        assert!(
            !s.contains('/')
                && !s.contains('\\')
                && !s.contains("..")
                && !s.chars().any(char::is_control)
        );
        let _ = parsed.python_tag();
        if let (Ok(name), Ok(version)) = (DistName::parse(name), Version::parse(version)) {
            let _ = parsed.check_matches(&name, &version);
        }
    }
});
