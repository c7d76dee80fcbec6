use std::sync::Arc;

use async_graphql::{Context, Enum, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    enums::{SessionStatus, StepStatus},
    session::Fragment,
};
use crate::{events::SessionEventRecord, graphql::context::ContextExt, request::ShortTx, service::fragments};

/// What happened to a session.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SessionEventType {
    /// A step moved through its status machine (`stepStatus`, `previousStepStatus`).
    StepStatusChanged,
    /// Steps were added, moved or the outline replaced: refetch `outline`.
    OutlineChanged,
    /// A fragment was appended (`fragmentId`, `version` 1).
    FragmentAppended,
    /// A fragment got a new version (`fragmentId`, `version`).
    FragmentRevised,
    FragmentDeleted,
    /// The session's status changed (`sessionStatus`, `previousSessionStatus`).
    SessionStatusChanged,
    /// The session was deleted; no further events follow.
    SessionDeleted,
    /// Events may have been missed (this server lost its database
    /// connection for a moment, or the client fell behind): refetch the session.
    Resync,
}

/// One live event of a session, delivered in commit order.
#[derive(Clone)]
pub struct SessionEvent {
    pub kind: SessionEventType,
    pub session_id: Uuid,
    pub record: Option<Arc<SessionEventRecord>>,
    pub at: DateTime<Utc>,
}

impl SessionEvent {
    pub fn resync(session_id: Uuid) -> Self {
        Self {
            kind: SessionEventType::Resync,
            session_id,
            record: None,
            at: Utc::now(),
        }
    }

    /// The event of a NOTIFY record; `None` for kinds this server does not know.
    pub fn from_record(record: Arc<SessionEventRecord>) -> Option<Self> {
        let kind = match record.kind.as_str() {
            "step_status_changed" => SessionEventType::StepStatusChanged,
            "outline_changed" => SessionEventType::OutlineChanged,
            "fragment_appended" => SessionEventType::FragmentAppended,
            "fragment_revised" => SessionEventType::FragmentRevised,
            "fragment_deleted" => SessionEventType::FragmentDeleted,
            "session_status_changed" => SessionEventType::SessionStatusChanged,
            "session_deleted" => SessionEventType::SessionDeleted,
            _ => return None,
        };
        Some(Self {
            kind,
            session_id: record.session_id,
            at: record.at,
            record: Some(record),
        })
    }

    fn status<T: std::str::FromStr>(&self, previous: bool) -> Option<T> {
        let record = self.record.as_ref()?;
        let value = if previous {
            &record.previous_status
        } else {
            &record.status
        };
        value.as_deref()?.parse().ok()
    }

    fn is_step(&self) -> bool {
        self.kind == SessionEventType::StepStatusChanged
    }

    fn is_session(&self) -> bool {
        matches!(
            self.kind,
            SessionEventType::SessionStatusChanged | SessionEventType::SessionDeleted
        )
    }
}

#[Object]
impl SessionEvent {
    #[graphql(name = "type")]
    async fn kind(&self) -> SessionEventType {
        self.kind
    }
    async fn session_id(&self) -> Uuid {
        self.session_id
    }
    /// When the change was made (in the writing transaction).
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.at
    }
    async fn step_id(&self) -> Option<Uuid> {
        self.record.as_ref().and_then(|r| r.step_id)
    }
    async fn fragment_id(&self) -> Option<Uuid> {
        self.record.as_ref().and_then(|r| r.fragment_id)
    }
    /// The fragment's version after the change.
    async fn version(&self) -> Option<i32> {
        self.record.as_ref().and_then(|r| r.version)
    }
    async fn step_status(&self) -> Option<StepStatus> {
        if !self.is_step() {
            return None;
        }
        self.status::<entity::enums::StepStatus>(false).map(Into::into)
    }
    async fn previous_step_status(&self) -> Option<StepStatus> {
        if !self.is_step() {
            return None;
        }
        self.status::<entity::enums::StepStatus>(true).map(Into::into)
    }
    async fn session_status(&self) -> Option<SessionStatus> {
        if !self.is_session() {
            return None;
        }
        self.status::<entity::enums::SessionStatus>(false).map(Into::into)
    }
    async fn previous_session_status(&self) -> Option<SessionStatus> {
        if !self.is_session() {
            return None;
        }
        self.status::<entity::enums::SessionStatus>(true).map(Into::into)
    }

    /// The fragment as it is now (read when asked for; null once deleted).
    async fn fragment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fragment>> {
        let Some(id) = self.record.as_ref().and_then(|r| r.fragment_id) else {
            return Ok(None);
        };
        if self.kind == SessionEventType::FragmentDeleted {
            return Ok(None);
        }
        let short = ShortTx::open(ctx.scope().db(), ctx.principal()).await?;
        let found = fragments::get_many(&short.tx, &short.caller, &[id]).await;
        short.close().await;
        Ok(found?.into_iter().next().map(Fragment::from))
    }
}
