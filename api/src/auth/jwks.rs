//! An identity provider's JWKS, kept fresh by a background task so that no
//! request ever waits for the provider.
//!
//! Requests only read the keys in memory. A token with an unknown `kid`
//! (the provider may have rotated) is refused at once and wakes the
//! refresher, which refetches at most once per [`MIN_REFETCH`]; its next
//! attempt of the same key then succeeds. Only the refresher fetches, so at
//! most one fetch is ever in flight, however many requests ask. A failed
//! fetch keeps the last good keys and is retried with exponential backoff
//! and jitter, so an outage of the provider costs requests nothing, and
//! tokens signed with keys we already hold keep working through it.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, jwk::JwkSet};
use tokio::sync::Notify;

use crate::runtime::ShutdownSignal;

/// One fetch of the JWKS gives up after this long.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Unknown `kid`s trigger a refetch at most this often.
const MIN_REFETCH: Duration = Duration::from_secs(60);
/// The wait after a first failed fetch; it doubles per failure, up to the
/// refresh interval.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The keys of one fetched JWKS.
struct KeySet {
    by_kid: HashMap<String, (DecodingKey, Algorithm)>,
    /// Keys without a `kid`, tried in order.
    anonymous: Vec<(DecodingKey, Algorithm)>,
}

/// The provider's keys and what keeps them fresh.
pub struct JwksCache {
    /// A file path or an http(s) URL.
    source: String,
    http: reqwest::Client,
    /// How often the keys are refetched.
    refresh: Duration,
    keys: RwLock<Arc<KeySet>>,
    /// Set by a request that met an unknown key.
    wanted: Notify,
}

impl JwksCache {
    /// Fetches the JWKS once: a server that cannot read its provider's keys
    /// at start is misconfigured and does not start.
    pub async fn load(source: &str, refresh: Duration) -> anyhow::Result<Arc<Self>> {
        let http = reqwest::Client::builder().timeout(FETCH_TIMEOUT).build()?;
        let keys = fetch(&http, source).await?;
        Ok(Arc::new(Self {
            source: source.to_owned(),
            http,
            refresh,
            keys: RwLock::new(Arc::new(keys)),
            wanted: Notify::new(),
        }))
    }

    /// The key for a token's `kid` and `alg`, from memory only. A key we
    /// do not hold wakes the refresher and is `None` at once.
    pub fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Option<(DecodingKey, Algorithm)> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner).clone();
        let accept =
            |(key, key_alg): &(DecodingKey, Algorithm)| (key_alg.family() == alg.family()).then(|| (key.clone(), alg));
        let found = match kid {
            Some(kid) => keys.by_kid.get(kid).and_then(accept),
            None => keys.anonymous.iter().find_map(accept),
        };
        if found.is_none() {
            self.wanted.notify_one();
        }
        found
    }

    /// Refetches the keys every refresh interval and when a request asks
    /// (at most once per [`MIN_REFETCH`]), until `shutdown`. A failure keeps
    /// the keys held and is retried sooner, backing off.
    pub async fn run(self: Arc<Self>, shutdown: ShutdownSignal) {
        let mut next = Instant::now() + self.refresh;
        let mut failures = 0u32;
        // The last fetch a request asked for, and whether the next one is such.
        let mut last_asked: Option<Instant> = None;
        let mut asked = false;
        loop {
            tokio::select! {
                () = shutdown.clone().wait() => return,
                () = tokio::time::sleep_until(next.into()) => {}
                () = self.wanted.notified() => {
                    let earliest = last_asked.map_or_else(Instant::now, |at| at + MIN_REFETCH);
                    if earliest < next {
                        (next, asked) = (earliest, true);
                    }
                    continue;
                }
            }
            if std::mem::take(&mut asked) {
                last_asked = Some(Instant::now());
            }
            let fetched = tokio::select! {
                () = shutdown.clone().wait() => return,
                fetched = fetch(&self.http, &self.source) => fetched,
            };
            failures = self.keep(fetched, failures);
            next = Instant::now() + self.wait_after(failures);
        }
    }

    /// Installs freshly fetched keys, or keeps the old ones; returns the
    /// count of failures in a row.
    fn keep(&self, fetched: anyhow::Result<KeySet>, failures: u32) -> u32 {
        match fetched {
            Ok(keys) => {
                if failures > 0 {
                    tracing::info!(source = %self.source, failures, "the JWKS is reachable again");
                }
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
                0
            }
            Err(e) => {
                tracing::warn!(source = %self.source, error = format!("{e:#}"), failures = failures + 1,
                    "refreshing the JWKS failed; keeping the keys held");
                failures + 1
            }
        }
    }

    /// How long to wait before the next fetch: the refresh interval after a
    /// success, else exponential backoff with jitter, capped by the interval.
    fn wait_after(&self, failures: u32) -> Duration {
        if failures == 0 {
            return self.refresh;
        }
        let backoff = FIRST_RETRY
            .saturating_mul(1 << (failures - 1).min(16))
            .min(self.refresh);
        backoff.mul_f64(rand::random_range(0.5..1.0))
    }
}

/// Reads the JWKS at `source` (an http(s) URL or a file).
async fn fetch(http: &reqwest::Client, source: &str) -> anyhow::Result<KeySet> {
    let text = if source.starts_with("https://") || source.starts_with("http://") {
        http.get(source).send().await?.error_for_status()?.text().await?
    } else {
        tokio::fs::read_to_string(source)
            .await
            .with_context(|| format!("reading {source}"))?
    };
    parse(&text)
}

/// The usable public keys of a JWKS document.
fn parse(text: &str) -> anyhow::Result<KeySet> {
    let set: JwkSet = serde_json::from_str(text).context("parsing the JWKS")?;
    let mut keys = KeySet {
        by_kid: HashMap::new(),
        anonymous: Vec::new(),
    };
    for jwk in &set.keys {
        let Ok(key) = DecodingKey::from_jwk(jwk) else { continue };
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse::<Algorithm>().ok())
            .unwrap_or(match key.family() {
                AlgorithmFamily::Rsa => Algorithm::RS256,
                AlgorithmFamily::Ec => Algorithm::ES256,
                AlgorithmFamily::Ed => Algorithm::EdDSA,
                AlgorithmFamily::Hmac => continue, // symmetric keys do not belong in a JWKS
            });
        if alg.family() == AlgorithmFamily::Hmac {
            continue;
        }
        match &jwk.common.key_id {
            Some(kid) => {
                keys.by_kid.insert(kid.clone(), (key, alg));
            }
            None => keys.anonymous.push((key, alg)),
        }
    }
    if keys.by_kid.is_empty() && keys.anonymous.is_empty() {
        bail!("the JWKS holds no usable public key");
    }
    Ok(keys)
}
