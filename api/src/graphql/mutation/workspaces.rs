use async_graphql::{Context, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use uuid::Uuid;

use crate::{
    auth::Action,
    graphql::{context::ContextExt, guards::Allow, types::Workspace},
    service::workspaces::{self, NewWorkspace, WorkspaceChange},
};

#[derive(InputObject)]
pub struct CreateWorkspaceInput {
    pub name: String,
    /// Derived from the name when omitted.
    pub slug: Option<String>,
    pub description: Option<String>,
    /// Search defaults and anything else the frontend keeps per workspace.
    pub settings: Option<Json<serde_json::Value>>,
}

#[derive(InputObject)]
pub struct UpdateWorkspaceInput {
    pub id: Uuid,
    pub name: Option<String>,
    pub slug: Option<String>,
    /// Null clears it.
    pub description: MaybeUndefined<String>,
    pub settings: Option<Json<serde_json::Value>>,
}

#[derive(SimpleObject)]
pub struct WorkspacePayload {
    pub workspace: Workspace,
}

#[derive(Default)]
pub struct WorkspaceMutation;

#[Object]
impl WorkspaceMutation {
    /// Creates a workspace (tenant admins).
    #[graphql(guard = "Allow(Action::ManageWorkspaces)")]
    async fn create_workspace(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkspaceInput,
    ) -> async_graphql::Result<WorkspacePayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let workspace = workspaces::create(
            &*tx,
            &caller,
            NewWorkspace {
                name: input.name,
                slug: input.slug,
                description: input.description,
                settings: input.settings.map(|j| j.0),
            },
        )
        .await?;
        ctx.scope()
            .note_change("workspace", workspace.id, None, Some(&workspace));
        Ok(WorkspacePayload {
            workspace: workspace.into(),
        })
    }

    /// Changes a workspace (tenant admins).
    #[graphql(guard = "Allow(Action::ManageWorkspaces)")]
    async fn update_workspace(
        &self,
        ctx: &Context<'_>,
        input: UpdateWorkspaceInput,
    ) -> async_graphql::Result<WorkspacePayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let description = match input.description {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(v) => Some(Some(v)),
        };
        let (before, workspace) = workspaces::update(
            &*tx,
            &caller,
            input.id,
            WorkspaceChange {
                name: input.name,
                slug: input.slug,
                description,
                settings: input.settings.map(|j| j.0),
            },
        )
        .await?;
        ctx.scope()
            .note_change("workspace", workspace.id, Some(&before), Some(&workspace));
        Ok(WorkspacePayload {
            workspace: workspace.into(),
        })
    }

    /// Archives a workspace: readable, but refuses new content (tenant admins).
    #[graphql(guard = "Allow(Action::ManageWorkspaces)")]
    async fn archive_workspace(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<WorkspacePayload> {
        let (tx, caller) = ctx.scope().tenant().await?;
        let (before, workspace) = workspaces::archive(&*tx, &caller, id).await?;
        ctx.scope()
            .note_change("workspace", id, Some(&before), Some(&workspace));
        Ok(WorkspacePayload {
            workspace: workspace.into(),
        })
    }
}
