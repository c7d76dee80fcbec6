//! Per-tenant request rate limits (GCRA, a leaky bucket without a timer).
//!
//! Each tenant's limit is `requests_per_minute`, with a burst of up to that
//! many requests. The state lives in this process: with several server
//! instances each enforces the full limit on the requests it receives (see
//! docs/security.md, "Rate limits and quotas").

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::domain::TenantId;

/// The per-process limiter.
#[derive(Default)]
pub struct RateLimiter {
    /// Theoretical arrival time of the next request, per tenant.
    tat: Mutex<HashMap<TenantId, Instant>>,
}

impl RateLimiter {
    /// Admits `cost` requests of `tenant` under `per_minute` (an operation
    /// that searches five times costs five), or says how long to wait.
    pub fn check(&self, tenant: TenantId, per_minute: u32, cost: u32) -> Result<(), Duration> {
        self.check_at(tenant, per_minute, cost, Instant::now())
    }

    fn check_at(&self, tenant: TenantId, per_minute: u32, cost: u32, now: Instant) -> Result<(), Duration> {
        let per_minute = per_minute.max(1);
        let interval = Duration::from_secs(60) / per_minute * cost.max(1);
        let burst = Duration::from_secs(60);
        let mut tat = self.tat.lock().unwrap_or_else(|e| e.into_inner());
        if tat.len() > 100_000 {
            // Forget tenants idle for more than a minute (their bucket is full again).
            tat.retain(|_, t| *t > now);
        }
        let current = tat.get(&tenant).copied().unwrap_or(now).max(now);
        let next = current + interval;
        if next > now + burst {
            return Err(next - (now + burst));
        }
        tat.insert(tenant, next);
        Ok(())
    }
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
