//! Password hashing with argon2id. Hashing is CPU-heavy by design, so it always runs on the
//! blocking pool, never on the async workers that serve requests.
use std::sync::LazyLock;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{internal, AppError};

/// OWASP Password Storage Cheat Sheet, argon2id minimum: m = 19 MiB, t = 2, p = 1.
pub const M_COST_KIB: u32 = 19_456;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Verified against when the e-mail is unknown, so that "no such user" takes as long as "wrong
/// password" and the two cannot be told apart.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_blocking(&random_secret(24)).expect("hashing a random dummy password"));

fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) to store.
pub async fn hash(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await.map_err(internal)?.map_err(internal)
}

/// True when `password` matches `stored`; with `stored = None` (unknown user) a dummy hash is
/// verified and the answer is false. The parameters are read from the stored string, so hashes
/// made with older parameters keep working.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let parsed = PasswordHash::new(&phc).map_err(internal)?;
        let ok = argon2().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(known && ok)
    })
    .await
    .map_err(internal)?
}

/// A random secret of `len` characters from an unambiguous alphabet (no 0/O, 1/l/I), for
/// generated passwords and API keys.
pub fn random_secret(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        OsRng.fill_bytes(&mut buf);
        // rejection sampling: 57 symbols, reject bytes >= 57 * 4 = 228 to stay uniform
        for b in buf {
            if (b as usize) < ALPHABET.len() * 4 && out.len() < len {
                out.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_owasp_parameters_and_verifies() {
        let h = hash("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify("correct horse battery".into(), Some(h.clone())).await.unwrap());
        assert!(!verify("correct horse battery!".into(), Some(h.clone())).await.unwrap());
        let again = hash("correct horse battery".into()).await.unwrap();
        assert_ne!(h, again, "a fresh salt every time");
    }

    #[tokio::test]
    async fn unknown_user_is_false_even_for_the_dummy_password() {
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }

    #[test]
    fn random_secrets_have_the_length_and_alphabet() {
        let s = random_secret(40);
        assert_eq!(s.chars().count(), 40);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(c)));
        assert_ne!(random_secret(40), s);
    }
}
