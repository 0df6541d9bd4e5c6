//! Distribution filenames: safe plain names of wheels and sdists, matched against name and version.

use super::name::{normalize, truncate_for_message};
use super::{DistName, Version};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistKind {
    Wheel,
    SdistTarGz,
    SdistZip,
}

impl DistKind {
    /// The `filetype` value twine sends and the JSON APIs show.
    pub fn filetype(self) -> &'static str {
        match self {
            DistKind::Wheel => "bdist_wheel",
            DistKind::SdistTarGz | DistKind::SdistZip => "sdist",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            DistKind::Wheel => ".whl",
            DistKind::SdistTarGz => ".tar.gz",
            DistKind::SdistZip => ".zip",
        }
    }
}

/// A file name that is safe to use in a path and a URL, and is a wheel or an sdist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filename {
    raw: String,
    kind: DistKind,
}

const MAX_FILENAME_LEN: usize = 255;

impl Filename {
    pub fn parse(raw: &str) -> Result<Self> {
        let shown = truncate_for_message(raw);
        // Path traversal and header injection both start with these characters.
        let unsafe_char = |c: char| c == '/' || c == '\\' || c.is_control();
        if raw.is_empty()
            || raw.len() > MAX_FILENAME_LEN
            || raw.chars().any(unsafe_char)
            || raw.contains("..")
            || raw.starts_with('.')
        {
            return Err(Error::bad_request(format!(
                "Filename \"{}\" is not a plain file name",
                shown.escape_default()
            )));
        }
        let kind = [DistKind::Wheel, DistKind::SdistTarGz, DistKind::SdistZip]
            .into_iter()
            .find(|kind| raw.ends_with(kind.extension()))
            .ok_or_else(|| {
                Error::bad_request(format!(
                    "Filename \"{shown}\" is neither a wheel (.whl) nor an sdist (.tar.gz, .zip)"
                ))
            })?;
        let filename = Filename {
            raw: raw.to_string(),
            kind,
        };
        if kind == DistKind::Wheel {
            filename.wheel_parts()?;
        }
        Ok(filename)
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn kind(&self) -> DistKind {
        self.kind
    }

    /// The Python tag of a wheel (`py3`, `cp312`), `source` for an sdist: Warehouse's
    /// `python_version`.
    pub fn python_tag(&self) -> &str {
        match self.kind {
            DistKind::Wheel => {
                let parts: Vec<&str> = self.stem().rsplitn(4, '-').collect();
                parts.get(2).copied().unwrap_or("source")
            }
            DistKind::SdistTarGz | DistKind::SdistZip => "source",
        }
    }

    fn stem(&self) -> &str {
        &self.raw[..self.raw.len() - self.kind.extension().len()]
    }

    /// `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl` (the wheel spec).
    fn wheel_parts(&self) -> Result<(&str, &str)> {
        let parts: Vec<&str> = self.stem().split('-').collect();
        let valid = matches!(parts.len(), 5 | 6)
            && parts.iter().all(|p| !p.is_empty())
            && (parts.len() == 5 || parts[2].starts_with(|c: char| c.is_ascii_digit()));
        if !valid {
            return Err(Error::bad_request(format!(
                "Filename \"{}\" is not a valid wheel filename \
                 (NAME-VERSION[-BUILD]-PYTHON-ABI-PLATFORM.whl)",
                truncate_for_message(&self.raw)
            )));
        }
        Ok((parts[0], parts[1]))
    }

    /// The normalized version of this file when its name part is the project `normalized_name`
    /// (PEP 503 form), else `None`: an upstream page must not list another project's files.
    pub fn version_of(&self, normalized_name: &str) -> Option<String> {
        let version_if = |name_part: &str, version_part: &str| {
            if normalize(name_part) != normalized_name {
                return None;
            }
            Version::parse(version_part).ok().map(|v| v.normalized())
        };
        match self.kind {
            DistKind::Wheel => {
                let (name_part, version_part) = self.wheel_parts().ok()?;
                version_if(name_part, version_part)
            }
            DistKind::SdistTarGz | DistKind::SdistZip => {
                let stem = self.stem();
                stem.match_indices('-')
                    .find_map(|(i, _)| version_if(&stem[..i], &stem[i + 1..]))
            }
        }
    }

    /// Checks that the name and version parts of the filename are `name` and `version`, after
    /// normalization: a file must not be stored under another package's name.
    pub fn check_matches(&self, name: &DistName, version: &Version) -> Result<()> {
        let matches = |name_part: &str, version_part: &str| {
            normalize(name_part) == name.normalized()
                && Version::parse(version_part).is_ok_and(|v| &v == version)
        };
        let ok = match self.kind {
            DistKind::Wheel => {
                let (name_part, version_part) = self.wheel_parts()?;
                matches(name_part, version_part)
            }
            // Old sdists keep `-` in the name part, so try every split point.
            DistKind::SdistTarGz | DistKind::SdistZip => {
                let stem = self.stem();
                stem.match_indices('-')
                    .any(|(i, _)| matches(&stem[..i], &stem[i + 1..]))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::bad_request(format!(
                "Filename \"{}\" does not match name \"{}\" and version \"{}\"",
                truncate_for_message(&self.raw),
                name.display(),
                version.normalized()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(file: &str, name: &str, version: &str) -> Result<()> {
        Filename::parse(file)?.check_matches(
            &DistName::parse(name).unwrap(),
            &Version::parse(version).unwrap(),
        )
    }

    #[test]
    fn recognises_kinds() {
        assert_eq!(
            Filename::parse("a-1.0-py3-none-any.whl").unwrap().kind(),
            DistKind::Wheel
        );
        assert_eq!(
            Filename::parse("a-1.0.tar.gz").unwrap().kind(),
            DistKind::SdistTarGz
        );
        assert_eq!(
            Filename::parse("a-1.0.zip").unwrap().kind(),
            DistKind::SdistZip
        );
        assert!(Filename::parse("a-1.0.egg").is_err());
        assert!(Filename::parse("a-1.0.tar.bz2").is_err());
    }

    #[test]
    fn knows_the_python_tag() {
        assert_eq!(
            Filename::parse("a-1.0-cp312-abi3-linux_x86_64.whl")
                .unwrap()
                .python_tag(),
            "cp312"
        );
        assert_eq!(
            Filename::parse("a-1.0-1-py3-none-any.whl")
                .unwrap()
                .python_tag(),
            "py3"
        );
        assert_eq!(
            Filename::parse("a-1.0.tar.gz").unwrap().python_tag(),
            "source"
        );
    }

    #[test]
    fn rejects_unsafe_names() {
        for bad in [
            "",
            "../a-1.0.tar.gz",
            "x/a-1.0.tar.gz",
            "x\\a-1.0.tar.gz",
            "a-1.0\0.tar.gz",
            "a-1.0\n.tar.gz",
            ".a-1.0.tar.gz",
            "a..b-1.0.tar.gz",
        ] {
            assert!(Filename::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_malformed_wheels() {
        for bad in [
            "a-1.0.whl",
            "a-1.0-py3-none.whl",
            "a-1.0-x-py3-none-any.whl",
            "a--py3-none-any.whl",
        ] {
            assert!(Filename::parse(bad).is_err(), "{bad}");
        }
        assert!(Filename::parse("a-1.0-1-py3-none-any.whl").is_ok());
    }

    #[test]
    fn matches_after_normalization() {
        assert!(check("my_pkg-1.0-py3-none-any.whl", "my-pkg", "1.0").is_ok());
        assert!(check("My.Pkg-1.0.0-py3-none-any.whl", "my_pkg", "1.0").is_ok());
        assert!(check("my-pkg-1.0.tar.gz", "my_pkg", "1.0").is_ok());
        assert!(check("my_pkg-2.0rc1.zip", "My-Pkg", "2.0-RC1").is_ok());
    }

    fn version_of(file: &str, name: &str) -> Option<String> {
        Filename::parse(file).unwrap().version_of(name)
    }

    #[test]
    fn finds_the_version_of_a_project() {
        assert_eq!(
            version_of("My.Pkg-1.0-py3-none-any.whl", "my-pkg").as_deref(),
            Some("1.0")
        );
        assert_eq!(
            version_of("my_pkg-2.0-1-cp312-abi3-linux_x86_64.whl", "my-pkg").as_deref(),
            Some("2.0")
        );
        assert_eq!(
            version_of("my-pkg-2.0RC1.tar.gz", "my-pkg").as_deref(),
            Some("2.0rc1")
        );
        assert_eq!(
            version_of("zope.interface-6.0.zip", "zope-interface").as_deref(),
            Some("6.0")
        );
        // Old sdists keep `-` in the name part; the first split that is the project wins.
        assert_eq!(
            version_of("foo-bar-1.0.tar.gz", "foo-bar").as_deref(),
            Some("1.0")
        );
    }

    #[test]
    fn finds_no_version_for_another_project() {
        assert_eq!(version_of("foo-bar-1.0.tar.gz", "foo"), None);
        assert_eq!(version_of("foo-1.0.tar.gz", "foo-bar"), None);
        assert_eq!(version_of("foobar-1.0-py3-none-any.whl", "foo"), None);
        assert_eq!(version_of("foo-1.0-py3-none-any.whl", "foo-1-0"), None);
        assert_eq!(version_of("foo-notaversion.tar.gz", "foo"), None);
        assert_eq!(version_of("foo.tar.gz", "foo"), None);
        // The name is compared in its normal form only.
        assert_eq!(version_of("foo-1.0.tar.gz", "Foo"), None);
    }

    #[test]
    fn detects_mismatch() {
        let err = check("other-1.0-py3-none-any.whl", "mypkg", "1.0").unwrap_err();
        assert!(
            err.to_string().contains("does not match name \"mypkg\""),
            "{err}"
        );
        assert!(check("mypkg-1.1-py3-none-any.whl", "mypkg", "1.0").is_err());
        assert!(check("mypkg-1.0.tar.gz", "mypkg", "1.0.1").is_err());
        assert!(check("mypkg-extra-1.0.tar.gz", "mypkg", "1.0").is_err());
    }
}
