//! Password hashing with argon2id on a small pool of dedicated threads.
//!
//! Each hash needs 19 MiB and tens of milliseconds of CPU, and anyone can
//! ask for one (`login` is public), so the work is bounded: at most one hash
//! per hashing thread at a time (one thread per core by default), at most
//! `queue` waiting, and beyond that a fast `RATE_LIMITED`. Dedicated threads
//! (not the blocking pool, which grows to hundreds of threads) keep the
//! memory the hashes use to a few reused buffers.

use std::{
    cell::RefCell,
    sync::{Arc, LazyLock, Mutex, OnceLock, mpsc},
    thread,
};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{Output, ParamsString, PasswordHash, SaltString},
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
    run(move || hash_now(password.as_bytes())).await
}

fn hash_now(password: &[u8]) -> AppResult<String> {
    let salt = new_salt()?;
    let params = Params::default();
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes).map_err(internal)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        Algorithm::Argon2id,
        Version::V0x13,
        &params,
        password,
        salt_bytes,
        &mut out,
    )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(internal)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches `hash`. With no hash (unknown user or SSO-only
/// account) a dummy hash is verified anyway, so that the time taken does not
/// tell whether the account exists.
pub async fn verify(password: String, hash: Option<String>) -> AppResult<bool> {
    run(move || {
        let known = hash.is_some();
        let hash = hash.as_deref().unwrap_or(DUMMY_HASH.as_str());
        let stored = PasswordHash::new(hash).map_err(|e| AppError::internal(anyhow::anyhow!("stored hash: {e}")))?;
        let ok = matches(password.as_bytes(), &stored)?;
        Ok(known && ok)
    })
    .await
}

/// Recomputes `stored` for `password` and compares in constant time.
fn matches(password: &[u8], stored: &PasswordHash<'_>) -> AppResult<bool> {
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return Ok(false);
    };
    let algorithm = Algorithm::try_from(stored.algorithm).map_err(internal)?;
    let version = match stored.version {
        Some(v) => Version::try_from(v).map_err(internal)?,
        None => Version::default(),
    };
    let params = Params::try_from(stored).map_err(internal)?;
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(internal)?;
    let mut out = vec![0u8; expected.len()];
    argon2_into(algorithm, version, &params, password, salt, &mut out)?;
    Ok(Output::new(&out).map_err(internal)? == expected)
}

thread_local! {
    /// The hashing thread's argon2 memory (19 MiB at the default
    /// parameters), allocated once and reused: a fresh allocation per hash
    /// left the allocator holding about 20 MiB more after each sign-in.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 of `password` into `out`, in this thread's reused memory.
fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> AppResult<()> {
    let argon2 = Argon2::new(algorithm, version, params.clone());
    BLOCKS.with_borrow_mut(|blocks| {
        let count = params.block_count();
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..count])
            .map_err(internal)
    })
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::internal(anyhow::anyhow!("password hashing: {e}"))
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
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_now(b"dummy password for timing").unwrap_or_default());

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

    /// Hashes stored before (argon2's own PHC strings) still verify, and
    /// ours verify with argon2's own verifier.
    #[tokio::test]
    async fn hashes_are_argon2s_own_phc_strings() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let theirs = Argon2::default()
            .hash_password(b"an older password", &new_salt().expect("salt"))
            .expect("hash")
            .to_string();
        assert!(
            verify("an older password".into(), Some(theirs.clone()))
                .await
                .expect("verify")
        );
        assert!(!verify("an older passwore".into(), Some(theirs)).await.expect("verify"));
        let ours = hash("a newer password".into()).await.expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(Argon2::default().verify_password(b"a newer password", &parsed).is_ok());
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
    }
}
