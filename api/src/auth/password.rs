//! Password hashing with argon2id. Hashing is CPU-bound work, so it runs on
//! the blocking pool.

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
};

use crate::error::{AppError, AppResult};

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Hashes `password` into a PHC string (argon2id, default parameters).
pub async fn hash(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = new_salt()?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await
    .map_err(AppError::internal)?
}

/// Whether `password` matches `hash`. With no hash (unknown user or SSO-only
/// account) a dummy hash is verified anyway, so that the time taken does not
/// tell whether the account exists.
pub async fn verify(password: String, hash: Option<String>) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.with(|h| h.clone()));
        let parsed = PasswordHash::new(&hash).map_err(|e| AppError::internal(anyhow::anyhow!("stored hash: {e}")))?;
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(known && ok)
    })
    .await
    .map_err(AppError::internal)?
}

/// Checks a new password's strength; the error names the field.
pub fn validate_new(field: &str, password: &str) -> AppResult<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::bad_input(
            field,
            format!("`{field}` must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > 1024 {
        return Err(AppError::bad_input(field, format!("`{field}` is too long")));
    }
    Ok(())
}

thread_local! {
    static DUMMY_HASH: String = {
        new_salt()
            .ok()
            .and_then(|salt| {
                Argon2::default()
                    .hash_password(b"dummy password for timing", &salt)
                    .ok()
                    .map(|h| h.to_string())
            })
            .unwrap_or_default()
    };
}

fn new_salt() -> AppResult<SaltString> {
    let bytes: [u8; 16] = rand::random();
    SaltString::encode_b64(&bytes).map_err(|e| AppError::internal(anyhow::anyhow!("salt: {e}")))
}
