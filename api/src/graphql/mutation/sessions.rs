use async_graphql::{Context, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use uuid::Uuid;

use crate::{
    auth::Action,
    graphql::{context::ContextExt, guards::Allow, types::Session},
    service::sessions::{self, NewSession, SessionChange},
};

#[derive(InputObject)]
pub struct CreateSessionInput {
    pub workspace_id: Uuid,
    pub title: String,
    /// What the screenplay is about (the writer's prompt).
    pub logline: Option<String>,
    pub genre: Option<String>,
    /// BCP 47 tag such as `en`, `zh-Hans`; `en` when omitted.
    pub language: Option<String>,
    /// Generation settings for the agents (a JSON object).
    pub config: Option<Json<serde_json::Value>>,
}

#[derive(InputObject)]
pub struct UpdateSessionInput {
    pub id: Uuid,
    /// The `version` you read: a stale one gets `CONFLICT`.
    pub version: i32,
    pub title: Option<String>,
    /// Null clears it.
    pub logline: MaybeUndefined<String>,
    /// Null clears it.
    pub genre: MaybeUndefined<String>,
    pub language: Option<String>,
    pub config: Option<Json<serde_json::Value>>,
}

#[derive(SimpleObject)]
pub struct SessionPayload {
    pub session: Session,
}

#[derive(SimpleObject)]
pub struct DeleteSessionPayload {
    pub deleted_session_id: Uuid,
}

fn maybe(value: MaybeUndefined<String>) -> Option<Option<String>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Starts a screenplay session in a workspace (status PLANNING).
    #[graphql(guard = "Allow(Action::WriteSessions)")]
    async fn create_session(
        &self,
        ctx: &Context<'_>,
        input: CreateSessionInput,
    ) -> async_graphql::Result<SessionPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let session = sessions::create(
            &*tx,
            &caller,
            NewSession {
                workspace_id: input.workspace_id,
                title: input.title,
                logline: input.logline,
                genre: input.genre,
                language: input.language,
                config: input.config.map(|j| j.0),
            },
        )
        .await?;
        ctx.scope().note_change("session", session.id, None, Some(&session));
        Ok(SessionPayload {
            session: session.into(),
        })
    }

    /// Changes a session's title, logline, genre, language or config, if
    /// `version` is still current (optimistic concurrency).
    #[graphql(guard = "Allow(Action::WriteSessions)")]
    async fn update_session(
        &self,
        ctx: &Context<'_>,
        input: UpdateSessionInput,
    ) -> async_graphql::Result<SessionPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let (before, session) = sessions::update(
            &*tx,
            &caller,
            input.id,
            SessionChange {
                version: input.version,
                title: input.title,
                logline: maybe(input.logline),
                genre: maybe(input.genre),
                language: input.language,
                config: input.config.map(|j| j.0),
            },
        )
        .await?;
        ctx.scope()
            .note_change("session", session.id, Some(&before), Some(&session));
        Ok(SessionPayload {
            session: session.into(),
        })
    }

    /// Cancels a session: agents' further writes get `CONFLICT`.
    #[graphql(guard = "Allow(Action::WriteSessions)")]
    async fn cancel_session(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<SessionPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let (before, session) = sessions::cancel(&*tx, &caller, id).await?;
        ctx.scope()
            .note_change("session", session.id, Some(&before), Some(&session));
        Ok(SessionPayload {
            session: session.into(),
        })
    }

    /// Deletes a session with its outline, fragments and retrievals
    /// (execution and LLM call logs stay, unlinked).
    #[graphql(guard = "Allow(Action::WriteSessions)")]
    async fn delete_session(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<DeleteSessionPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let session = sessions::delete(&*tx, &caller, id).await?;
        ctx.scope().note_change("session", id, Some(&session), None);
        Ok(DeleteSessionPayload { deleted_session_id: id })
    }
}
