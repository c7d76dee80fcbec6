//! GraphQL enums mirroring the database's checked values.

use async_graphql::Enum;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::TenantStatus")]
pub enum TenantStatus {
    Active,
    Suspended,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::TenantPlan")]
pub enum TenantPlan {
    Free,
    Pro,
    Enterprise,
}

/// Roles a user can hold inside a tenant.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::UserRole")]
pub enum UserRole {
    TenantAdmin,
    Member,
    Viewer,
    Agent,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::UserStatus")]
pub enum UserStatus {
    Active,
    Disabled,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::WorkspaceStatus")]
pub enum WorkspaceStatus {
    Active,
    Archived,
}

/// The lifecycle of a session, derived from its steps.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::SessionStatus")]
pub enum SessionStatus {
    /// No outline yet.
    Planning,
    /// An outline exists and work remains (or a step runs).
    Generating,
    /// Every step completed or skipped.
    Completed,
    /// A step failed and was not retried.
    Failed,
    /// Stopped by a person; agents' writes are refused.
    Cancelled,
}

/// The lifecycle of an outline step.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::StepStatus")]
pub enum StepStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Skipped,
}

/// The screenplay element a fragment holds.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::FragmentKind")]
pub enum FragmentKind {
    SceneHeading,
    Action,
    /// A character cue (the content is the name).
    Character,
    Dialogue,
    Parenthetical,
    Transition,
    Note,
}

/// How a fragment version came to be.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::FragmentOrigin")]
pub enum FragmentOrigin {
    /// Newly written by an agent.
    New,
    /// Continues earlier text.
    Continue,
    /// Rewritten by an agent.
    Rewrite,
    /// Edited by a person.
    Edit,
}

/// How a document was retrieved.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::RetrievalMethod")]
pub enum RetrievalMethod {
    Vector,
    Keyword,
    Hybrid,
}

/// The outcome of an agent action.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::ExecutionStatus")]
pub enum ExecutionStatus {
    Started,
    Succeeded,
    Failed,
    Cancelled,
}

/// The outcome of an LLM call.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "entity::enums::LlmCallStatus")]
pub enum LlmCallStatus {
    Succeeded,
    Failed,
}

/// Output formats of `Session.screenplay`.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ScreenplayFormat {
    /// Fountain markup (https://fountain.io), with the outline as sections.
    Fountain,
    /// Plain text laid out like a printed screenplay.
    Plain,
    /// The outline tree with its fragments, as JSON.
    Json,
}

impl From<ScreenplayFormat> for crate::service::export::Format {
    fn from(f: ScreenplayFormat) -> Self {
        match f {
            ScreenplayFormat::Fountain => Self::Fountain,
            ScreenplayFormat::Plain => Self::Plain,
            ScreenplayFormat::Json => Self::Json,
        }
    }
}

/// Orders of the session list.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum SessionOrderBy {
    #[default]
    CreatedAtDesc,
    CreatedAtAsc,
    UpdatedAtDesc,
    UpdatedAtAsc,
}

impl From<SessionOrderBy> for crate::service::sessions::SessionOrder {
    fn from(o: SessionOrderBy) -> Self {
        match o {
            SessionOrderBy::CreatedAtDesc => Self::CreatedDesc,
            SessionOrderBy::CreatedAtAsc => Self::CreatedAsc,
            SessionOrderBy::UpdatedAtDesc => Self::UpdatedDesc,
            SessionOrderBy::UpdatedAtAsc => Self::UpdatedAsc,
        }
    }
}
