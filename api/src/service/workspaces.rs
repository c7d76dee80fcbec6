//! Workspaces of a tenant: created and changed by tenant admins, read by
//! everyone in the tenant.

use chrono::Utc;
use entity::{enums::WorkspaceStatus, workspaces};
use sea_orm::{ActiveModelTrait, ConnectionTrait, QueryFilter, Set, TransactionSession, TransactionTrait, prelude::*};
use uuid::Uuid;

use super::page::{self, Page, PageResult};
use crate::domain::validate;
use crate::{
    auth::TenantCaller,
    db::TenantOwned,
    error::{AppError, AppResult},
};

pub struct NewWorkspace {
    pub name: String,
    /// Derived from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    pub settings: Option<serde_json::Value>,
}

#[derive(Default)]
pub struct WorkspaceChange {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub settings: Option<serde_json::Value>,
}

/// Reads a workspace of the caller's tenant.
pub async fn get(db: &impl ConnectionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<workspaces::Model> {
    workspaces::Entity::find_by_id_in(caller.tenant_id, id)
        .one(db)
        .await?
        .ok_or(AppError::not_found("workspace"))
}

/// A workspace that accepts writes (exists in the tenant and is not archived).
pub async fn get_writable(db: &impl ConnectionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<workspaces::Model> {
    let workspace = get(db, caller, id).await?;
    if workspace.status == WorkspaceStatus::Archived {
        return Err(AppError::conflict("the workspace is archived and read only"));
    }
    Ok(workspace)
}

fn filtered(caller: &TenantCaller, status: Option<WorkspaceStatus>) -> sea_orm::Select<workspaces::Entity> {
    let mut select = workspaces::Entity::find_in(caller.tenant_id);
    if let Some(status) = status {
        select = select.filter(workspaces::Column::Status.eq(status));
    }
    select
}

/// Lists the tenant's workspaces, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    status: Option<WorkspaceStatus>,
    page: &Page,
) -> AppResult<PageResult<workspaces::Model>> {
    page::fetch(
        db,
        filtered(caller, status),
        workspaces::Column::CreatedAt,
        workspaces::Column::Id,
        page,
    )
    .await
}

pub async fn count(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    status: Option<WorkspaceStatus>,
) -> AppResult<u64> {
    Ok(filtered(caller, status).count(db).await?)
}

/// Creates a workspace.
pub async fn create(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    input: NewWorkspace,
) -> AppResult<workspaces::Model> {
    let name = validate::name("name", &input.name, 200)?;
    let slug = match input.slug {
        Some(slug) => validate::slug("slug", &slug)?,
        None => validate::slugify(&name),
    };
    let description = validate::optional_text("description", input.description, 5000)?;
    let settings = validate::json_object("settings", input.settings.unwrap_or_else(|| serde_json::json!({})))?;
    let now = Utc::now().fixed_offset();
    let tx = db.begin().await?;
    let workspace = workspaces::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(caller.tenant_id.into()),
        name: Set(name),
        slug: Set(slug),
        description: Set(description),
        settings: Set(settings),
        status: Set(WorkspaceStatus::Active),
        created_by: Set(caller.user_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok(workspace)
}

/// Changes a workspace; returns it before and after.
pub async fn update(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    id: Uuid,
    change: WorkspaceChange,
) -> AppResult<(workspaces::Model, workspaces::Model)> {
    let tx = db.begin().await?;
    let before = get(&tx, caller, id).await?;
    let mut model: workspaces::ActiveModel = before.clone().into();
    if let Some(name) = change.name {
        model.name = Set(validate::name("name", &name, 200)?);
    }
    if let Some(slug) = change.slug {
        model.slug = Set(validate::slug("slug", &slug)?);
    }
    if let Some(description) = change.description {
        model.description = Set(validate::optional_text("description", description, 5000)?);
    }
    if let Some(settings) = change.settings {
        model.settings = Set(validate::json_object("settings", settings)?);
    }
    let after = model.update(&tx).await?;
    tx.commit().await?;
    Ok((before, after))
}

/// Archives a workspace: it stays readable, and refuses new content.
pub async fn archive(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    id: Uuid,
) -> AppResult<(workspaces::Model, workspaces::Model)> {
    let tx = db.begin().await?;
    let current = get(&tx, caller, id).await?;
    let mut model: workspaces::ActiveModel = current.clone().into();
    model.status = Set(WorkspaceStatus::Archived);
    let after = model.update(&tx).await?;
    tx.commit().await?;
    Ok((current, after))
}
