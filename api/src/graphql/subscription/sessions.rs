use async_graphql::{Context, Subscription};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::ShortTx;
use crate::{
    auth::{Action, Allow},
    events::HubMessage,
    graphql::{
        context::ContextExt,
        types::{SessionEvent, SessionEventType},
    },
    service::sessions,
};

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
    ) -> async_graphql::Result<impl Stream<Item = SessionEvent> + use<>> {
        // Listen first, then check: nothing committed in between is missed.
        let mut receiver = ctx.app().events.subscribe().await?;
        let short = ShortTx::open(ctx.scope()).await?;
        let found = sessions::get(&short.tx, &short.caller, session_id).await;
        let tenant_id = short.caller.tenant_id;
        short.close().await;
        found?;
        Ok(async_stream::stream! {
            loop {
                match receiver.recv().await {
                    Ok(HubMessage::Event(record)) => {
                        if record.tenant_id != tenant_id || record.session_id != session_id {
                            continue;
                        }
                        if let Some(event) = SessionEvent::from_record(record) {
                            let last = event.kind == SessionEventType::SessionDeleted;
                            yield event;
                            if last {
                                break;
                            }
                        }
                    }
                    Ok(HubMessage::Gap) | Err(RecvError::Lagged(_)) => yield SessionEvent::resync(session_id),
                    Err(RecvError::Closed) => break,
                }
            }
        })
    }
}
