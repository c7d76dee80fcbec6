use async_graphql::{Context, InputObject, MaybeUndefined, Object, SimpleObject};
use uuid::Uuid;

use crate::{
    auth::Action,
    graphql::{
        context::ContextExt,
        guards::Allow,
        types::{OutlineStep, Session, StepStatus},
    },
    service::outline::{self, NewStep, StatusChange, StepInput, StepMove},
};

/// One step of a new outline with its children.
#[derive(InputObject)]
pub struct OutlineStepInput {
    pub title: String,
    pub description: Option<String>,
    pub agent_name: Option<String>,
    #[graphql(default)]
    pub children: Vec<OutlineStepInput>,
}

impl From<OutlineStepInput> for StepInput {
    fn from(i: OutlineStepInput) -> Self {
        Self {
            title: i.title,
            description: i.description,
            agent_name: i.agent_name,
            children: i.children.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(InputObject)]
pub struct SetOutlineInput {
    pub session_id: Uuid,
    /// The whole tree (acts > sequences > scenes), in order.
    pub steps: Vec<OutlineStepInput>,
}

#[derive(InputObject)]
pub struct AddOutlineStepInput {
    pub session_id: Uuid,
    /// Omit for a top-level step.
    pub parent_step_id: Option<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub agent_name: Option<String>,
    /// 0-based among its siblings; the end when omitted.
    pub position: Option<i32>,
}

#[derive(InputObject)]
pub struct MoveOutlineStepInput {
    pub id: Uuid,
    /// The new parent; null moves the step to the top level; omit to keep it.
    pub parent_step_id: MaybeUndefined<Uuid>,
    /// 0-based among the new siblings; the end when omitted.
    pub position: Option<i32>,
}

#[derive(InputObject)]
pub struct UpdateOutlineStepStatusInput {
    pub id: Uuid,
    pub status: StepStatus,
    /// Why it failed (only with FAILED).
    pub error: Option<String>,
    pub agent_name: Option<String>,
}

#[derive(SimpleObject)]
pub struct OutlinePayload {
    pub session: Session,
    pub outline: Vec<OutlineStep>,
}

#[derive(SimpleObject)]
pub struct OutlineStepPayload {
    pub step: OutlineStep,
}

#[derive(SimpleObject)]
pub struct StepStatusPayload {
    pub step: OutlineStep,
    /// The session with its re-derived status.
    pub session: Session,
}

#[derive(Default)]
pub struct OutlineMutation;

#[Object]
impl OutlineMutation {
    /// Replaces a session's whole outline in one step.
    #[graphql(guard = "Allow(Action::WriteOutline)")]
    async fn set_outline(&self, ctx: &Context<'_>, input: SetOutlineInput) -> async_graphql::Result<OutlinePayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let steps = input.steps.into_iter().map(Into::into).collect();
        let (session, steps) = outline::set_outline(&*tx, &caller, input.session_id, steps).await?;
        ctx.scope().note_resources("outline_step", steps.iter().map(|s| s.id));
        Ok(OutlinePayload {
            outline: OutlineStep::tree(&steps),
            session: session.into(),
        })
    }

    /// Adds a step to an outline.
    #[graphql(guard = "Allow(Action::WriteOutline)")]
    async fn add_outline_step(
        &self,
        ctx: &Context<'_>,
        input: AddOutlineStepInput,
    ) -> async_graphql::Result<OutlineStepPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let (_, step) = outline::add_step(
            &*tx,
            &caller,
            NewStep {
                session_id: input.session_id,
                parent_step_id: input.parent_step_id,
                title: input.title,
                description: input.description,
                agent_name: input.agent_name,
                position: input.position,
            },
        )
        .await?;
        ctx.scope().note_change("outline_step", step.id, None, Some(&step));
        Ok(OutlineStepPayload { step: step.into() })
    }

    /// Reorders a step among its siblings or moves it under another parent.
    #[graphql(guard = "Allow(Action::WriteOutline)")]
    async fn move_outline_step(
        &self,
        ctx: &Context<'_>,
        input: MoveOutlineStepInput,
    ) -> async_graphql::Result<OutlineStepPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let parent_step_id = match input.parent_step_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(v) => Some(Some(v)),
        };
        let (before, step) = outline::move_step(
            &*tx,
            &caller,
            StepMove {
                id: input.id,
                parent_step_id,
                position: input.position,
            },
        )
        .await?;
        ctx.scope()
            .note_change("outline_step", step.id, Some(&before), Some(&step));
        Ok(OutlineStepPayload { step: step.into() })
    }

    /// Moves a step through its status machine: PENDING → RUNNING | SKIPPED,
    /// RUNNING → COMPLETED | FAILED | SKIPPED, FAILED → PENDING (a retry).
    #[graphql(guard = "Allow(Action::WriteOutline)")]
    async fn update_outline_step_status(
        &self,
        ctx: &Context<'_>,
        input: UpdateOutlineStepStatusInput,
    ) -> async_graphql::Result<StepStatusPayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let (before, step, session) = outline::update_status(
            &*tx,
            &caller,
            StatusChange {
                id: input.id,
                status: input.status.into(),
                error: input.error,
                agent_name: input.agent_name,
            },
        )
        .await?;
        ctx.scope()
            .note_change("outline_step", step.id, Some(&before), Some(&step));
        Ok(StepStatusPayload {
            step: step.into(),
            session: session.into(),
        })
    }
}
