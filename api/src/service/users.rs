//! Users of a tenant, managed by its tenant admins. Every function runs in
//! the caller's tenant transaction, so row-level security keeps it inside
//! the tenant even where a filter is missing.

use chrono::Utc;
use entity::{
    enums::{UserRole, UserStatus},
    users,
};
use sea_orm::{ActiveModelTrait, ConnectionTrait, QueryFilter, Set, TransactionSession, TransactionTrait, prelude::*};
use uuid::Uuid;

use super::page::{self, Page, PageResult};
use crate::domain::validate;
use crate::{
    auth::{TenantCaller, password},
    db::TenantOwned,
    error::{AppError, AppResult},
};

pub struct NewUser {
    pub email: String,
    pub display_name: String,
    /// `None` for accounts that sign in elsewhere (SSO) or use issued tokens (agents).
    pub password: Option<String>,
    pub role: UserRole,
    pub external_subject: Option<String>,
}

#[derive(Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub role: Option<UserRole>,
}

/// Reads a user of the caller's tenant.
pub async fn get(db: &impl ConnectionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<users::Model> {
    users::Entity::find_by_id_in(caller.tenant_id, id)
        .one(db)
        .await?
        .ok_or(AppError::not_found("user"))
}

/// Lists the tenant's users, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    role: Option<UserRole>,
    status: Option<UserStatus>,
    page: &Page,
) -> AppResult<PageResult<users::Model>> {
    let select = filtered(caller, role, status);
    page::fetch(db, select, users::Column::CreatedAt, users::Column::Id, page).await
}

/// Counts the tenant's users.
pub async fn count(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    role: Option<UserRole>,
    status: Option<UserStatus>,
) -> AppResult<u64> {
    Ok(filtered(caller, role, status).count(db).await?)
}

fn filtered(
    caller: &TenantCaller,
    role: Option<UserRole>,
    status: Option<UserStatus>,
) -> sea_orm::Select<users::Entity> {
    let mut select = users::Entity::find_in(caller.tenant_id);
    if let Some(role) = role {
        select = select.filter(users::Column::Role.eq(role));
    }
    if let Some(status) = status {
        select = select.filter(users::Column::Status.eq(status));
    }
    select
}

/// Creates a user in the caller's tenant.
pub async fn create(db: &impl TransactionTrait, caller: &TenantCaller, input: NewUser) -> AppResult<users::Model> {
    let email = validate::email("email", &input.email)?;
    let display_name = validate::name("displayName", &input.display_name, 200)?;
    let external_subject = validate::optional_text("externalSubject", input.external_subject, 255)?;
    let hash = match input.password {
        Some(p) => {
            password::validate_new("password", &p)?;
            Some(password::hash(p).await?)
        }
        None => None,
    };
    let now = Utc::now().fixed_offset();
    let tx = db.begin().await?;
    let user = users::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(caller.tenant_id.into()),
        email: Set(email),
        display_name: Set(display_name),
        password_hash: Set(hash),
        external_subject: Set(external_subject),
        role: Set(input.role),
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
    Ok(user)
}

/// Changes a user's display name or role. The tenant keeps at least one
/// active tenant admin.
pub async fn update(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    id: Uuid,
    change: UserChange,
) -> AppResult<(users::Model, users::Model)> {
    let tx = db.begin().await?;
    let before = lock(&tx, caller, id).await?;
    let mut model: users::ActiveModel = before.clone().into();
    if let Some(name) = change.display_name {
        model.display_name = Set(validate::name("displayName", &name, 200)?);
    }
    if let Some(role) = change.role {
        if before.role == UserRole::TenantAdmin && role != UserRole::TenantAdmin {
            ensure_other_admin(&tx, caller, id).await?;
        }
        model.role = Set(role);
    }
    let after = model.update(&tx).await?;
    tx.commit().await?;
    Ok((before, after))
}

/// Disables or enables a user. A disabled user's tokens are refused from the
/// next request on and its refresh tokens are revoked.
pub async fn set_status(
    db: &impl TransactionTrait,
    caller: &TenantCaller,
    id: Uuid,
    status: UserStatus,
) -> AppResult<(users::Model, users::Model)> {
    let tx = db.begin().await?;
    let before = lock(&tx, caller, id).await?;
    if status == UserStatus::Disabled && before.role == UserRole::TenantAdmin {
        ensure_other_admin(&tx, caller, id).await?;
    }
    let mut model: users::ActiveModel = before.clone().into();
    model.status = Set(status);
    if status == UserStatus::Active {
        model.failed_login_count = Set(0);
        model.locked_until = Set(None);
    }
    let after = model.update(&tx).await?;
    if status == UserStatus::Disabled {
        super::auth::revoke_user_refresh_tokens(&tx, caller.tenant_id, id).await?;
    }
    tx.commit().await?;
    Ok((before, after))
}

/// Reads a user with a row lock, so that concurrent admin changes serialise.
async fn lock(db: &impl ConnectionTrait, caller: &TenantCaller, id: Uuid) -> AppResult<users::Model> {
    use sea_orm::QuerySelect;
    users::Entity::find_by_id_in(caller.tenant_id, id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(AppError::not_found("user"))
}

async fn ensure_other_admin(db: &impl ConnectionTrait, caller: &TenantCaller, except: Uuid) -> AppResult<()> {
    use sea_orm::QuerySelect;
    // Lock the admins so two concurrent demotions cannot both pass.
    let admins = users::Entity::find_in(caller.tenant_id)
        .filter(users::Column::Role.eq(UserRole::TenantAdmin))
        .filter(users::Column::Status.eq(UserStatus::Active))
        .filter(users::Column::Id.ne(except))
        .lock_exclusive()
        .all(db)
        .await?;
    if admins.is_empty() {
        return Err(AppError::conflict(
            "the tenant must keep at least one active tenant_admin",
        ));
    }
    Ok(())
}
