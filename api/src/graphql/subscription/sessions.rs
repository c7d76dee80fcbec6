use std::sync::Arc;

use async_graphql::{Context, Subscription};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::{
    auth::Action,
    domain::TenantId,
    error::AppResult,
    events::HubMessage,
    graphql::{
        context::ContextExt,
        guards::Allow,
        types::{SessionEvent, SessionEventType},
    },
    request::{RequestScope, ShortTx},
    service::sessions,
};

/// The caller may read the session (short transaction); returns its tenant.
async fn check_access(scope: &RequestScope, session_id: Uuid) -> AppResult<TenantId> {
    let short = ShortTx::open(scope.db(), scope.principal()).await?;
    let found = sessions::get(&short.tx, &short.caller, session_id).await;
    let tenant_id = short.caller.tenant_id;
    short.close().await;
    found?;
    Ok(tenant_id)
}

#[derive(Default)]
pub struct SessionSubscription;

#[Subscription]
impl SessionSubscription {
    /// Live changes of one session, in commit order: step status changes,
    /// outline changes, fragments appended, revised or deleted, session
    /// status changes. Another tenant's session is `NOT_FOUND`.
    #[graphql(guard = "Allow(Action::ReadContent)")]
    async fn session_events(
        &self,
        ctx: &Context<'_>,
        session_id: Uuid,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<SessionEvent>> + use<>> {
        // Listen first, then check: nothing committed in between is missed.
        let mut receiver = ctx.app().events.subscribe().await?;
        let scope = ctx.data::<Arc<RequestScope>>()?.clone();
        let tenant_id = check_access(&scope, session_id).await?;
        let recheck = ctx.app().config.http.subscription_recheck;
        Ok(async_stream::stream! {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + recheck, recheck);
            loop {
                let message = tokio::select! {
                    _ = ticks.tick() => {
                        // The caller may have been disabled, its role changed
                        // or its tenant suspended since the subscription began.
                        if let Err(err) = check_access(&scope, session_id).await {
                            yield Err(err.into());
                            break;
                        }
                        continue;
                    }
                    message = receiver.recv() => message,
                };
                match message {
                    Ok(HubMessage::Event(record)) => {
                        if tenant_id != record.tenant_id || record.session_id != session_id {
                            continue;
                        }
                        if let Some(event) = SessionEvent::from_record(record) {
                            let last = event.kind == SessionEventType::SessionDeleted;
                            yield Ok(event);
                            if last {
                                break;
                            }
                        }
                    }
                    Ok(HubMessage::Gap) | Err(RecvError::Lagged(_)) => yield Ok(SessionEvent::resync(session_id)),
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }
}
