//! Password hashing with argon2id on a small pool of dedicated threads.
//!
//! Each hash needs 19 MiB and tens of milliseconds of CPU, and anyone can
//! ask for one (`login` is public), so the work is bounded: at most one hash
//! per hashing thread at a time (one thread per core by default), at most
//! `queue` waiting, and beyond that a fast `RATE_LIMITED`. Dedicated threads
//! (not the blocking pool, which grows to hundreds of threads) keep the
//! memory the hashes use to a few reused buffers.

use std::{
    sync::{Arc, LazyLock, Mutex, OnceLock, mpsc},
    thread,
};

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
};
use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// How much hashing may run and wait at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLimits {
    /// Hashing threads.
    pub threads: usize,
    /// Hashes that may wait for a thread.
    pub queue: usize,
}

impl Default for HashingLimits {
    fn default() -> Self {
        let threads = thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            threads,
            queue: 16 * threads,
        }
    }
}

/// Starts the hashing threads with `limits` (the server's configuration);
/// without this call, the first hash starts them with the defaults.
pub fn start(limits: HashingLimits) {
    let _ = POOL.set(Pool::new(limits));
}

/// Hashes `password` into a PHC string (argon2id, default parameters).
pub async fn hash(password: String) -> AppResult<String> {
    run(move || {
        let salt = new_salt()?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await
}

/// Whether `password` matches `hash`. With no hash (unknown user or SSO-only
/// account) a dummy hash is verified anyway, so that the time taken does not
/// tell whether the account exists.
pub async fn verify(password: String, hash: Option<String>) -> AppResult<bool> {
    run(move || {
        let known = hash.is_some();
        let hash = hash.as_deref().unwrap_or(DUMMY_HASH.as_str());
        let parsed = PasswordHash::new(hash).map_err(|e| AppError::internal(anyhow::anyhow!("stored hash: {e}")))?;
        let ok = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(known && ok)
    })
    .await
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

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads and their bounded queue.
struct Pool {
    jobs: mpsc::SyncSender<Job>,
}

static POOL: OnceLock<Pool> = OnceLock::new();

/// One hash of a password nobody has, computed once per process.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    new_salt()
        .ok()
        .and_then(|salt| {
            Argon2::default()
                .hash_password(b"dummy password for timing", &salt)
                .ok()
                .map(|h| h.to_string())
        })
        .unwrap_or_default()
});

impl Pool {
    fn new(limits: HashingLimits) -> Self {
        // The channel's capacity is the queue; a job a thread has taken is
        // no longer in it.
        let (jobs, queue) = mpsc::sync_channel::<Job>(limits.queue);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..limits.threads.max(1) {
            let queue = queue.clone();
            let spawned = thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || {
                    loop {
                        let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            // A panic drops the job's answer (its caller
                            // sees INTERNAL), not the thread.
                            Ok(job) => drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "starting a password-hashing thread");
            }
        }
        Self { jobs }
    }
}

/// Runs `work` on a hashing thread, or refuses at once when the queue is full.
async fn run<T: Send + 'static>(work: impl FnOnce() -> AppResult<T> + Send + 'static) -> AppResult<T> {
    let pool = POOL.get_or_init(|| Pool::new(HashingLimits::default()));
    let (done, result) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(work());
    });
    match pool.jobs.try_send(job) {
        Ok(()) => {}
        Err(mpsc::TrySendError::Full(_)) => {
            return Err(AppError::RateLimited { retry_after_seconds: 1 });
        }
        Err(mpsc::TrySendError::Disconnected(_)) => {
            return Err(AppError::internal(anyhow::anyhow!(
                "the password-hashing threads stopped"
            )));
        }
    }
    result
        .await
        .map_err(|_| AppError::internal(anyhow::anyhow!("a password-hashing job was dropped")))?
}

fn new_salt() -> AppResult<SaltString> {
    let bytes: [u8; 16] = rand::random();
    SaltString::encode_b64(&bytes).map_err(|e| AppError::internal(anyhow::anyhow!("salt: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_the_dummy_hash_never_matches() {
        let hash = hash("correct horse battery".into()).await.expect("hash");
        assert!(
            verify("correct horse battery".into(), Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(!verify("wrong horse battery".into(), Some(hash)).await.expect("verify"));
        assert!(!verify("dummy password for timing".into(), None).await.expect("verify"));
    }
}
