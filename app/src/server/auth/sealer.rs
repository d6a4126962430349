//! Encryption at rest for secrets Costroom must use again (a provider's API key, which the
//! gateway sends upstream), unlike passwords and Costroom's own keys, which are only hashed.
//!
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`): a random 24-byte nonce per value is
//! safe at any volume, and the tag refuses a value altered or moved to another row (the row's
//! identity is the associated data). The key is the server's, from `COSTROOM_SECRET_KEY` or
//! `COSTROOM_SECRET_KEY_FILE` (64 hex characters), never from the database: a copy of the
//! database alone does not reveal a provider key.
//!
//! Rotation: start the server with the new key as the secret key and the old one in
//! `COSTROOM_PREVIOUS_SECRET_KEYS` (comma-separated); values sealed under an old key still
//! open, and `costroom secret rotate` seals every stored value under the new key, after which
//! the old key can be dropped.
use std::sync::Arc;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use blake2::digest::Digest;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};

/// The stored form: `v1.<key id>.<nonce and ciphertext, hex>`.
const VERSION: &str = "v1";

#[derive(Clone)]
struct Key {
    /// The first 4 bytes of the key's BLAKE2b digest, in hex: says which key sealed a value
    /// without revealing it.
    id: String,
    cipher: XChaCha20Poly1305,
}

/// Seals and opens secrets with the server's key (and opens with previous keys). `Debug`
/// shows only the key ids.
#[derive(Clone)]
pub struct Sealer(Arc<Vec<Key>>);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Sealer").field(&self.0.iter().map(|k| k.id.as_str()).collect::<Vec<_>>()).finish()
    }
}

/// Why a stored value did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("sealed with key {0}, which this server does not have (set COSTROOM_PREVIOUS_SECRET_KEYS)")]
    UnknownKey(String),
    #[error("the stored value is damaged or belongs to another record")]
    Damaged,
}

fn parse_key(what: &str, hex: &str) -> Result<Key, String> {
    let hex = hex.trim();
    let bytes = decode_hex(hex).filter(|b| b.len() == 32).ok_or_else(|| {
        format!("{what}: 64 hex characters (32 random bytes; `costroom secret generate` makes one)")
    })?;
    let digest = blake2::Blake2b512::digest(&bytes);
    let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let cipher =
        XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| format!("{what}: not a 32-byte key"))?;
    Ok(Key { id, cipher })
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sealer {
    /// The current key and any previous ones (hex), each error naming its setting.
    pub fn new(current: &str, previous: &[&str]) -> Result<Sealer, String> {
        let mut keys = vec![parse_key("COSTROOM_SECRET_KEY", current)?];
        for p in previous.iter().filter(|p| !p.trim().is_empty()) {
            keys.push(parse_key("COSTROOM_PREVIOUS_SECRET_KEYS", p)?);
        }
        Ok(Sealer(Arc::new(keys)))
    }

    /// From the environment: `COSTROOM_SECRET_KEY`, else the file `COSTROOM_SECRET_KEY_FILE`
    /// names; `None` when neither is set (secrets cannot be stored until one is).
    pub fn from_env() -> Result<Option<Sealer>, String> {
        let current = match (std::env::var("COSTROOM_SECRET_KEY"), std::env::var("COSTROOM_SECRET_KEY_FILE"))
        {
            (Ok(k), _) if !k.trim().is_empty() => k,
            (_, Ok(path)) if !path.trim().is_empty() => std::fs::read_to_string(path.trim())
                .map_err(|e| format!("COSTROOM_SECRET_KEY_FILE: cannot read {}: {e}", path.trim()))?,
            _ => return Ok(None),
        };
        let previous = std::env::var("COSTROOM_PREVIOUS_SECRET_KEYS").unwrap_or_default();
        Sealer::new(&current, &previous.split(',').collect::<Vec<_>>()).map(Some)
    }

    /// A new random key, in hex.
    pub fn generate() -> String {
        let mut k = [0u8; 32];
        OsRng.fill_bytes(&mut k);
        hex(&k)
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> &str {
        &self.0[0].id
    }

    /// Seals `secret` for the record `context` names (e.g. `upstream:3:openai`): it opens
    /// only with the same context.
    pub fn seal(&self, secret: &str, context: &str) -> String {
        let key = &self.0[0];
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let sealed = key
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret.as_bytes(), aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 encrypts any length a request carries");
        format!("{VERSION}.{}.{}{}", key.id, hex(&nonce), hex(&sealed))
    }

    /// Opens a value [`Sealer::seal`] made for `context`, with whichever known key sealed it.
    pub fn open(&self, stored: &str, context: &str) -> Result<String, OpenError> {
        let mut parts = stored.splitn(3, '.');
        let (Some(VERSION), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(OpenError::Damaged);
        };
        let key = self.0.iter().find(|k| k.id == id).ok_or_else(|| OpenError::UnknownKey(id.to_string()))?;
        let bytes = decode_hex(body).filter(|b| b.len() > 24).ok_or(OpenError::Damaged)?;
        let (nonce, sealed) = bytes.split_at(24);
        let plain = key
            .cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: context.as_bytes() })
            .map_err(|_| OpenError::Damaged)?;
        String::from_utf8(plain).map_err(|_| OpenError::Damaged)
    }

    /// Whether `stored` was sealed with the current key (else rotation has work to do).
    pub fn is_current(&self, stored: &str) -> bool {
        stored.split('.').nth(1) == Some(self.current_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let s = Sealer::new(&Sealer::generate(), &[]).unwrap();
        let sealed = s.seal("sk-live-123", "upstream:1:openai");
        assert!(!sealed.contains("sk-live-123"));
        assert_eq!(s.open(&sealed, "upstream:1:openai").unwrap(), "sk-live-123");
        assert_eq!(s.open(&sealed, "upstream:2:openai"), Err(OpenError::Damaged), "moved to another row");
        // a fresh nonce each time: the same secret never seals the same way twice
        assert_ne!(s.seal("sk-live-123", "c"), s.seal("sk-live-123", "c"));
        let mut flipped = sealed.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            s.open(std::str::from_utf8(&flipped).unwrap(), "upstream:1:openai"),
            Err(OpenError::Damaged)
        );
        let other = Sealer::new(&Sealer::generate(), &[]).unwrap();
        assert!(matches!(other.open(&sealed, "upstream:1:openai"), Err(OpenError::UnknownKey(_))));
    }

    #[test]
    fn rotation_opens_old_values_and_seals_new_ones_under_the_new_key() {
        let (old_hex, new_hex) = (Sealer::generate(), Sealer::generate());
        let old = Sealer::new(&old_hex, &[]).unwrap();
        let sealed = old.seal("k", "c");
        let rotated = Sealer::new(&new_hex, &[&old_hex]).unwrap();
        assert_eq!(rotated.open(&sealed, "c").unwrap(), "k");
        assert!(!rotated.is_current(&sealed));
        let resealed = rotated.seal("k", "c");
        assert!(rotated.is_current(&resealed));
        assert!(matches!(old.open(&resealed, "c"), Err(OpenError::UnknownKey(_))));
    }

    #[test]
    fn a_bad_key_setting_is_named() {
        assert!(Sealer::new("abc", &[]).unwrap_err().starts_with("COSTROOM_SECRET_KEY: 64 hex"));
        assert!(Sealer::new(&Sealer::generate(), &["zz"])
            .unwrap_err()
            .starts_with("COSTROOM_PREVIOUS_SECRET_KEYS"));
        assert!(!format!("{:?}", Sealer::new(&"ab".repeat(32), &[]).unwrap()).contains("abab"));
    }
}
