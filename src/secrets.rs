//! Secrets: random tokens and passwords, token digests, and argon2id password hashes.

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Prefixes make a leaked secret recognisable (and greppable by secret scanners).
pub const PERSONAL_TOKEN_PREFIX: &str = "whpat-";
pub const DEPLOY_TOKEN_PREFIX: &str = "whdt-";

/// `bytes` of randomness from the OS, as URL-safe base64 (safe in URLs' user-info part).
fn random_text(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// A new token secret: 192 random bits behind a prefix.
pub fn new_token(prefix: &str) -> Result<String> {
    Ok(format!("{prefix}{}", random_text(24)?))
}

/// A new account password: 144 random bits.
pub fn new_password() -> Result<String> {
    random_text(18)
}

/// What the database keeps of a token. Tokens carry 192 random bits, so a fast hash is enough
/// and lets every request find its token through an index instead of an argon2 computation.
pub fn token_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// An argon2id PHC string (default cost: tens of milliseconds, so only for web sign-in).
pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < 8 {
        return Err(Error::bad_request("a password needs at least 8 characters"));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash: PasswordHash| hash.to_string())
        .map_err(|e| Error::internal(format!("argon2: {e}")))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = new_token(PERSONAL_TOKEN_PREFIX).unwrap();
        let b = new_token(PERSONAL_TOKEN_PREFIX).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("whpat-") && a.len() == 6 + 32, "{a}");
        assert_eq!(token_digest("x").len(), 64);
    }

    #[test]
    fn passwords_hash_with_argon2id() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(hash_password("short").is_err());
    }
}
