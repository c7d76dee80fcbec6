//! Each tenant's share of the pool (a bulkhead): one tenant's requests hold
//! at most `SCREENPLAY_TENANT_MAX_CONNECTIONS` pooled connections at once.
//! A request beyond waits a moment for one of them, then answers
//! `RATE_LIMITED`; so a tenant whose requests are stuck (on a lock, say)
//! keeps the rest of the pool free for the others. Per instance, in memory,
//! like the rate limiter.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{
    domain::TenantId,
    error::{AppError, AppResult},
};

/// The per-tenant connection caps. Cheap to clone.
#[derive(Clone)]
pub struct TenantBulkhead {
    inner: Arc<Inner>,
}

struct Inner {
    max: u32,
    wait: Duration,
    /// Only tenants with a request in flight (or waiting) have an entry.
    tenants: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
}

/// One of a tenant's connections, released when dropped.
pub struct TenantPermit {
    permit: Option<OwnedSemaphorePermit>,
    tenant: TenantId,
    inner: Arc<Inner>,
}

impl TenantBulkhead {
    /// At most `max` (at least 1) connections per tenant; a request waits up to `wait` for one.
    pub fn new(max: u32, wait: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                max: max.max(1),
                wait,
                tenants: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn max(&self) -> u32 {
        self.inner.max
    }

    /// One of `tenant`'s connections: at once, within the wait, or `RATE_LIMITED`.
    pub async fn acquire(&self, tenant: TenantId) -> AppResult<TenantPermit> {
        let semaphore = {
            let mut tenants = self.inner.tenants.lock().unwrap_or_else(|e| e.into_inner());
            tenants
                .entry(tenant)
                .or_insert_with(|| Arc::new(Semaphore::new(self.inner.max as usize)))
                .clone()
        };
        let permit = match semaphore.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => match tokio::time::timeout(self.inner.wait, semaphore.acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => {
                    tracing::warn!(
                        tenant_id = %tenant,
                        max = self.inner.max,
                        "tenant holds its whole share of the pool; request refused"
                    );
                    // The entry may be unused now that this request gives up.
                    drop(TenantPermit {
                        permit: None,
                        tenant,
                        inner: self.inner.clone(),
                    });
                    return Err(AppError::rate_limited(self.inner.wait));
                }
            },
        };
        Ok(TenantPermit {
            permit: Some(permit),
            tenant,
            inner: self.inner.clone(),
        })
    }

    /// Connections `tenant`'s requests hold now.
    pub fn in_use(&self, tenant: TenantId) -> u32 {
        let tenants = self.inner.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants
            .get(&tenant)
            .map_or(0, |s| self.inner.max - s.available_permits() as u32)
    }
}

impl Drop for TenantPermit {
    fn drop(&mut self) {
        drop(self.permit.take());
        // Forget a tenant with nothing in flight and nobody waiting.
        let mut tenants = self.inner.tenants.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(semaphore) = tenants.get(&self.tenant)
            && Arc::strong_count(semaphore) == 1
            && semaphore.available_permits() == self.inner.max as usize
        {
            tenants.remove(&self.tenant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_beyond_its_share_waits_then_is_refused_and_others_are_not() {
        let bulkhead = TenantBulkhead::new(2, Duration::from_millis(50));
        let (a, b) = (
            TenantId::from(uuid::Uuid::now_v7()),
            TenantId::from(uuid::Uuid::now_v7()),
        );
        let held = [bulkhead.acquire(a).await.unwrap(), bulkhead.acquire(a).await.unwrap()];
        assert!(matches!(bulkhead.acquire(a).await, Err(AppError::RateLimited { .. })));
        assert!(bulkhead.acquire(b).await.is_ok());
        assert_eq!(bulkhead.in_use(a), 2);
        drop(held);
        assert_eq!(bulkhead.in_use(a), 0);
        assert!(bulkhead.inner.tenants.lock().unwrap().is_empty());
    }
}
