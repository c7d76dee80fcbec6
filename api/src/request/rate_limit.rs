//! Per-tenant request rate limits (GCRA, a leaky bucket without a timer).
//!
//! Each tenant's limit is `requests_per_minute`, with a burst of up to that
//! many requests. The state lives in this process: with several server
//! instances each enforces the full limit on the requests it receives (see
//! docs/security.md, "Rate limits and quotas").

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};

use crate::{config::LoginLimits, domain::TenantId};

/// Keys a limiter remembers before it forgets the idle ones; beyond twice
/// this (keys all busy within a minute), it starts afresh rather than grow.
const MAX_KEYS: usize = 100_000;

/// GCRA per key, each key with its own rate.
pub struct KeyedLimiter<K> {
    /// Theoretical arrival time of the next request, per key.
    tat: Mutex<HashMap<K, Instant>>,
}

impl<K> Default for KeyedLimiter<K> {
    fn default() -> Self {
        Self {
            tat: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq> KeyedLimiter<K> {
    /// Admits `cost` requests of `key` under `per_minute` (with a burst of a
    /// minute's worth), or says how long to wait.
    pub fn check(&self, key: K, per_minute: u32, cost: u32) -> Result<(), Duration> {
        self.check_at(key, per_minute, cost, Instant::now())
    }

    fn check_at(&self, key: K, per_minute: u32, cost: u32, now: Instant) -> Result<(), Duration> {
        let per_minute = per_minute.max(1);
        let interval = Duration::from_secs(60) / per_minute * cost.max(1);
        let burst = Duration::from_secs(60);
        let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        if tat.len() > MAX_KEYS {
            // Forget keys idle for more than a minute (their bucket is full again).
            tat.retain(|_, t| *t > now);
            if tat.len() > 2 * MAX_KEYS {
                tracing::warn!(keys = tat.len(), "rate limiter full of busy keys; starting afresh");
                tat.clear();
            }
        }
        let current = tat.get(&key).copied().unwrap_or(now).max(now);
        let next = current + interval;
        if next > now + burst {
            return Err(next - (now + burst));
        }
        tat.insert(key, next);
        Ok(())
    }
}

/// The per-tenant request rate limit.
pub type RateLimiter = KeyedLimiter<TenantId>;

/// Sign-in attempts per client address, per tenant slug and per account,
/// counted before any password is hashed, whether or not the tenant or the
/// account exists (so that unknown accounts are throttled like known ones).
#[derive(Default)]
pub struct LoginLimiter {
    limits: LoginLimits,
    clients: KeyedLimiter<IpAddr>,
    tenants: KeyedLimiter<[u8; 32]>,
    accounts: KeyedLimiter<[u8; 32]>,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Admits one attempt, or says how long to wait.
    pub fn check(&self, client: Option<IpAddr>, tenant_slug: &str, email: &str) -> Result<(), Duration> {
        let slug = tenant_slug.trim().to_lowercase();
        if let Some(ip) = client {
            self.clients.check(network_of(ip), self.limits.per_client, 1)?;
        }
        self.tenants.check(digest(&[&slug]), self.limits.per_tenant, 1)?;
        let email = email.trim().to_lowercase();
        self.accounts
            .check(digest(&[&slug, &email]), self.limits.per_account, 1)
    }
}

/// The client's address, IPv6 by its /64 (one host usually holds a whole
/// /64, so counting single addresses would not limit it).
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
    }
}

/// Fixed-size keys, however long the caller's strings are.
fn digest(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_minutes_worth_then_paces() {
        let limiter = RateLimiter::default();
        let t = TenantId::from(uuid::Uuid::now_v7());
        let now = Instant::now();
        for _ in 0..6 {
            assert!(limiter.check_at(t, 6, 1, now).is_ok());
        }
        let wait = limiter
            .check_at(t, 6, 1, now)
            .expect_err("seventh request in the same instant");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(10), "{wait:?}");
        // After one interval (10 s) one more request fits.
        assert!(limiter.check_at(t, 6, 1, now + Duration::from_secs(10)).is_ok());
        // A costlier operation waits for as many intervals.
        assert!(limiter.check_at(t, 6, 2, now + Duration::from_secs(10)).is_err());
        assert!(limiter.check_at(t, 6, 2, now + Duration::from_secs(30)).is_ok());
        // Other tenants are independent.
        assert!(
            limiter
                .check_at(TenantId::from(uuid::Uuid::now_v7()), 6, 1, now)
                .is_ok()
        );
    }
}

#[cfg(test)]
mod login_tests {
    use super::*;

    #[test]
    fn sign_in_attempts_are_limited_per_account_whether_it_exists_or_not() {
        let limiter = LoginLimiter::new(LoginLimits {
            per_client: 100,
            per_tenant: 100,
            per_account: 3,
        });
        let ip = Some("203.0.113.7".parse().expect("ip"));
        for _ in 0..3 {
            limiter
                .check(ip, "Nowhere", "Who@example.test")
                .expect("within the limit");
        }
        assert!(
            limiter.check(ip, " nowhere ", "who@EXAMPLE.test").is_err(),
            "same account, other spelling"
        );
        limiter
            .check(ip, "nowhere", "other@example.test")
            .expect("another account");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let limiter = LoginLimiter::new(LoginLimits {
            per_client: 2,
            per_tenant: 100,
            per_account: 100,
        });
        for host in ["2001:db8::1", "2001:db8::2"] {
            limiter
                .check(Some(host.parse().expect("ip")), "t", host)
                .expect("within");
        }
        let third = limiter.check(Some("2001:db8::ffff:1".parse().expect("ip")), "t", "x");
        assert!(third.is_err(), "same /64");
        limiter
            .check(Some("2001:db8:0:1::1".parse().expect("ip")), "t", "y")
            .expect("another /64");
    }
}
