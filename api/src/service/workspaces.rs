//! Workspaces of a tenant: created and changed by tenant admins, read by
//! everyone in the tenant.

use chrono::Utc;
use entity::{enums::WorkspaceStatus, workspaces};
use sea_orm::{
    ActiveModelTrait, Condition, ConnectionTrait, QueryFilter, QuerySelect, Set, TransactionSession, TransactionTrait,
    prelude::*,
};
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
        None => String::new(),
    };
    let description = validate::optional_text("description", input.description, 5000)?;
    let settings = validate::json_object("settings", input.settings.unwrap_or_else(|| serde_json::json!({})))?;
    let now = Utc::now().fixed_offset();
    let tx = db.begin().await?;
    let slug = match slug.is_empty() {
        true => free_slug(&tx, caller, &validate::slugify(&name)).await?,
        false => {
            ensure_slug_free(&tx, caller, &slug, None).await?;
            slug
        }
    };
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

/// `base`, or the first of `base-2`, `base-3`, … no workspace of the
/// tenant has: names need not be unique, slugs are.
async fn free_slug(db: &impl ConnectionTrait, caller: &TenantCaller, base: &str) -> AppResult<String> {
    let prefix = format!("{base}-");
    let taken: std::collections::HashSet<String> = workspaces::Entity::find_in(caller.tenant_id)
        .select_only()
        .column(workspaces::Column::Slug)
        .filter(
            Condition::any()
                .add(workspaces::Column::Slug.eq(base))
                .add(workspaces::Column::Slug.starts_with(&prefix)),
        )
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let candidate = |n: usize| {
        let suffix = if n == 1 { String::new() } else { format!("-{n}") };
        // Slugs are at most 63 characters, the suffix included.
        let stem: String = base.chars().take(63 - suffix.len()).collect();
        format!("{}{suffix}", stem.trim_end_matches('-'))
    };
    Ok((1..)
        .map(candidate)
        .find(|s| !taken.contains(s))
        .unwrap_or_else(|| base.to_owned()))
}

/// Refuses a slug another workspace of the tenant has, naming it.
async fn ensure_slug_free(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    slug: &str,
    except: Option<Uuid>,
) -> AppResult<()> {
    let mut query = workspaces::Entity::find_in(caller.tenant_id).filter(workspaces::Column::Slug.eq(slug));
    if let Some(id) = except {
        query = query.filter(workspaces::Column::Id.ne(id));
    }
    if query.count(db).await? > 0 {
        return Err(AppError::conflict(format!(
            "a workspace with the slug `{slug}` already exists; pass another `slug` (lowercase letters, digits, \
             hyphens), or leave it out to have one made from the name"
        )));
    }
    Ok(())
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
        let slug = validate::slug("slug", &slug)?;
        ensure_slug_free(&tx, caller, &slug, Some(id)).await?;
        model.slug = Set(slug);
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
