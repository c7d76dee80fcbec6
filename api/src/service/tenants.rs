//! Tenants: created, changed, suspended and deleted by platform admins.
//! Every function here runs in a platform transaction.

use chrono::Utc;
use entity::{
    enums::{TenantPlan, TenantStatus, UserRole, UserStatus},
    tenants, users,
};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionSession, TransactionTrait, prelude::*,
};
use uuid::Uuid;

use super::page::{self, Page, PageResult};
use crate::domain::validate;
use crate::{
    auth::password,
    error::{AppError, AppResult},
};

/// Per-tenant limits; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    pub requests_per_minute: Option<i32>,
    pub llm_tokens_per_day: Option<i64>,
    pub embedding_tokens_per_month: Option<i64>,
    pub max_documents: Option<i32>,
}

/// A change of limits: `None` keeps a limit, `Some(None)` removes it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LimitsChange {
    pub requests_per_minute: Option<Option<i32>>,
    pub llm_tokens_per_day: Option<Option<i64>>,
    pub embedding_tokens_per_month: Option<Option<i64>>,
    pub max_documents: Option<Option<i32>>,
}

pub struct NewTenant {
    pub slug: String,
    pub name: String,
    pub plan: TenantPlan,
    pub limits: Limits,
    pub settings: Option<serde_json::Value>,
    pub admin_email: String,
    pub admin_password: String,
    pub admin_display_name: Option<String>,
}

#[derive(Default)]
pub struct TenantChange {
    pub name: Option<String>,
    pub plan: Option<TenantPlan>,
    pub limits: LimitsChange,
    pub settings: Option<serde_json::Value>,
}

fn check_limits(limits: &Limits) -> AppResult<()> {
    validate::positive("limits.requestsPerMinute", limits.requests_per_minute)?;
    validate::positive("limits.llmTokensPerDay", limits.llm_tokens_per_day)?;
    validate::positive("limits.embeddingTokensPerMonth", limits.embedding_tokens_per_month)?;
    validate::positive("limits.maxDocuments", limits.max_documents)?;
    Ok(())
}

/// Creates a tenant and its first tenant admin.
pub async fn create(db: &impl TransactionTrait, input: NewTenant) -> AppResult<(tenants::Model, users::Model)> {
    let slug = validate::slug("slug", &input.slug)?;
    let name = validate::name("name", &input.name, 200)?;
    check_limits(&input.limits)?;
    let settings = validate::json_object("settings", input.settings.unwrap_or_else(|| serde_json::json!({})))?;
    let email = validate::email("adminEmail", &input.admin_email)?;
    password::validate_new("adminPassword", &input.admin_password)?;
    let display_name = match input.admin_display_name {
        Some(n) => validate::name("adminDisplayName", &n, 200)?,
        None => email.split('@').next().unwrap_or("admin").to_owned(),
    };
    let hash = password::hash(input.admin_password).await?;

    let tx = db.begin().await?;
    let now = Utc::now().fixed_offset();
    let tenant = tenants::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(slug),
        name: Set(name),
        status: Set(TenantStatus::Active),
        plan: Set(input.plan),
        requests_per_minute: Set(input.limits.requests_per_minute),
        llm_tokens_per_day: Set(input.limits.llm_tokens_per_day),
        embedding_tokens_per_month: Set(input.limits.embedding_tokens_per_month),
        max_documents: Set(input.limits.max_documents),
        settings: Set(settings),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    let admin = users::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant.id),
        email: Set(email),
        display_name: Set(display_name),
        password_hash: Set(Some(hash)),
        external_subject: Set(None),
        role: Set(UserRole::TenantAdmin),
        status: Set(UserStatus::Active),
        failed_login_count: Set(0),
        locked_until: Set(None),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;
    Ok((tenant, admin))
}

/// Reads a tenant.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> AppResult<tenants::Model> {
    tenants::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::not_found("tenant"))
}

/// Lists tenants, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    status: Option<TenantStatus>,
    page: &Page,
) -> AppResult<PageResult<tenants::Model>> {
    let mut select = tenants::Entity::find();
    if let Some(status) = status {
        select = select.filter(tenants::Column::Status.eq(status));
    }
    page::fetch(db, select, tenants::Column::CreatedAt, tenants::Column::Id, page).await
}

/// Counts tenants.
pub async fn count(db: &impl ConnectionTrait, status: Option<TenantStatus>) -> AppResult<u64> {
    let mut select = tenants::Entity::find();
    if let Some(status) = status {
        select = select.filter(tenants::Column::Status.eq(status));
    }
    Ok(select.count(db).await?)
}

/// Changes name, plan, limits or settings.
pub async fn update(
    db: &impl TransactionTrait,
    id: Uuid,
    change: TenantChange,
) -> AppResult<(tenants::Model, tenants::Model)> {
    let tx = db.begin().await?;
    let current = get(&tx, id).await?;
    let mut model: tenants::ActiveModel = current.clone().into();
    if let Some(name) = change.name {
        model.name = Set(validate::name("name", &name, 200)?);
    }
    if let Some(plan) = change.plan {
        model.plan = Set(plan);
    }
    let limits = Limits {
        requests_per_minute: change.limits.requests_per_minute.unwrap_or(current.requests_per_minute),
        llm_tokens_per_day: change.limits.llm_tokens_per_day.unwrap_or(current.llm_tokens_per_day),
        embedding_tokens_per_month: change
            .limits
            .embedding_tokens_per_month
            .unwrap_or(current.embedding_tokens_per_month),
        max_documents: change.limits.max_documents.unwrap_or(current.max_documents),
    };
    check_limits(&limits)?;
    model.requests_per_minute = Set(limits.requests_per_minute);
    model.llm_tokens_per_day = Set(limits.llm_tokens_per_day);
    model.embedding_tokens_per_month = Set(limits.embedding_tokens_per_month);
    model.max_documents = Set(limits.max_documents);
    if let Some(settings) = change.settings {
        model.settings = Set(validate::json_object("settings", settings)?);
    }
    let updated = model.update(&tx).await?;
    tx.commit().await?;
    Ok((current, updated))
}

/// Suspends or reactivates a tenant. A suspended tenant's tokens are refused
/// from the next request on, and its refresh tokens stop working.
pub async fn set_status(
    db: &impl TransactionTrait,
    id: Uuid,
    status: TenantStatus,
) -> AppResult<(tenants::Model, tenants::Model)> {
    let tx = db.begin().await?;
    let current = get(&tx, id).await?;
    let mut model: tenants::ActiveModel = current.clone().into();
    model.status = Set(status);
    let updated = model.update(&tx).await?;
    if status == TenantStatus::Suspended {
        super::auth::revoke_tenant_refresh_tokens(&tx, id.into()).await?;
    }
    tx.commit().await?;
    Ok((current, updated))
}

/// Deletes a tenant and, through the foreign keys' ON DELETE CASCADE, every
/// row it owns (users, workspaces, sessions, documents, logs, usage).
pub async fn delete(db: &impl TransactionTrait, id: Uuid) -> AppResult<tenants::Model> {
    let tx = db.begin().await?;
    let current = get(&tx, id).await?;
    tenants::Entity::delete_by_id(id).exec(&tx).await?;
    tx.commit().await?;
    Ok(current)
}
