//! Where package files live (`[storage]`): the local directory or an S3-compatible bucket,
//! and `storage migrate`, which copies them from one to the other.

pub mod migrate;

use anyhow::bail;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageKind {
    /// DATA/blobs (the default).
    #[default]
    Local,
    S3,
}

/// The resolved `[storage]` settings. The bucket settings may be given while `kind` is still
/// `local`: that is how `storage migrate --to s3` learns where to copy before the switch.
#[derive(Debug, Clone, Default)]
pub struct StorageConfig {
    pub kind: StorageKind,
    pub bucket: Option<String>,
    /// Keys start with this (no slashes at either end), so one bucket can hold several
    /// registries or other data.
    pub prefix: String,
    /// `http://127.0.0.1:9000` for MinIO, Garage, Ceph…; none for AWS itself.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key` (most
    /// self-hosted servers want this).
    pub path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Answer downloads with a 302 to a presigned URL of the bucket instead of streaming.
    pub redirect_downloads: bool,
}

/// The `[storage]` table of the config file; every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageFile {
    pub kind: Option<String>,
    pub bucket: Option<String>,
    pub prefix: Option<String>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub redirect_downloads: Option<bool>,
}

fn parse_kind(text: &str) -> anyhow::Result<StorageKind> {
    match text.trim().to_ascii_lowercase().as_str() {
        "local" => Ok(StorageKind::Local),
        "s3" => Ok(StorageKind::S3),
        other => bail!("storage kind \"{other}\" is unknown (use \"local\" or \"s3\")"),
    }
}

fn parse_bool(name: &str, text: &str) -> anyhow::Result<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => bail!("{name}=\"{text}\" is not true or false"),
    }
}

impl StorageConfig {
    /// The file's `[storage]`, each key overridden by `WHEELHOUSE_STORAGE_<KEY>` when set.
    /// Credentials may also come from the standard `AWS_*` variables (read by the S3 client).
    pub fn resolve(file: Option<&StorageFile>) -> anyhow::Result<StorageConfig> {
        let default = StorageFile::default();
        let file = file.unwrap_or(&default);
        let env = |key: &str| {
            std::env::var(format!("WHEELHOUSE_STORAGE_{key}"))
                .ok()
                .filter(|v| !v.is_empty())
        };
        let text = |key: &str, from_file: &Option<String>| env(key).or_else(|| from_file.clone());
        let flag = |key: &str, from_file: Option<bool>| -> anyhow::Result<bool> {
            match env(key) {
                Some(v) => parse_bool(&format!("WHEELHOUSE_STORAGE_{key}"), &v),
                None => Ok(from_file.unwrap_or(false)),
            }
        };
        let config = StorageConfig {
            kind: match text("KIND", &file.kind) {
                Some(kind) => parse_kind(&kind)?,
                None => StorageKind::Local,
            },
            bucket: text("BUCKET", &file.bucket),
            prefix: text("PREFIX", &file.prefix)
                .unwrap_or_default()
                .trim_matches('/')
                .to_string(),
            endpoint: text("ENDPOINT", &file.endpoint),
            region: text("REGION", &file.region),
            path_style: flag("PATH_STYLE", file.path_style)?,
            access_key_id: text("ACCESS_KEY_ID", &file.access_key_id),
            secret_access_key: text("SECRET_ACCESS_KEY", &file.secret_access_key),
            redirect_downloads: flag("REDIRECT_DOWNLOADS", file.redirect_downloads)?,
        };
        if config.kind == StorageKind::S3 && config.bucket.is_none() {
            bail!(
                "storage kind \"s3\" needs a bucket ([storage] bucket or WHEELHOUSE_STORAGE_BUCKET)"
            );
        }
        if config.redirect_downloads && config.kind != StorageKind::S3 {
            bail!("storage.redirect_downloads needs kind = \"s3\"");
        }
        Ok(config)
    }

    /// The same settings with blobs in the bucket.
    pub fn as_s3(&self) -> anyhow::Result<StorageConfig> {
        if self.bucket.is_none() {
            bail!("no bucket is configured ([storage] bucket or WHEELHOUSE_STORAGE_BUCKET)");
        }
        Ok(StorageConfig {
            kind: StorageKind::S3,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_storage_table() {
        let file: StorageFile = toml::from_str(
            "kind = \"s3\"\nbucket = \"pkgs\"\nprefix = \"/wh/\"\npath_style = true",
        )
        .unwrap();
        let config = StorageConfig::resolve(Some(&file)).unwrap();
        assert_eq!(config.kind, StorageKind::S3);
        assert_eq!(config.prefix, "wh");
        assert!(config.path_style);
        let no_bucket: StorageFile = toml::from_str("kind = \"s3\"").unwrap();
        assert!(StorageConfig::resolve(Some(&no_bucket)).is_err());
        let bad: StorageFile = toml::from_str("kind = \"ftp\"").unwrap();
        assert!(StorageConfig::resolve(Some(&bad)).is_err());
        assert!(toml::from_str::<StorageFile>("buckett = \"x\"").is_err());
    }
}
