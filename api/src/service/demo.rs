//! The demo tenant a fresh local development database starts with, so that
//! GraphiQL can be used at once. Never used with a configured DATABASE_URL.

use std::time::Duration;

use entity::{
    enums::{TenantPlan, UserRole, UserStatus},
    tenants, users,
};
use rand::{Rng, distr::Alphanumeric};
use sea_orm::{EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, prelude::*};

use super::{
    tenants::{Limits, NewTenant},
    workspaces::NewWorkspace,
};
use crate::{
    auth::{Role, TenantCaller, jwt::JwtIssuer},
    db::Db,
    db::TenantOwned,
    error::AppResult,
};

/// Slug of the demo tenant.
pub const DEMO_SLUG: &str = "demo";
pub const DEMO_EMAIL: &str = "demo@screenplay.local";
/// Subject of the local development platform admin.
pub const DEMO_PLATFORM_ADMIN: &str = "local-platform-admin";

/// What to tell the developer.
pub struct DemoAccess {
    /// Set only when the demo was created just now.
    pub new_password: Option<String>,
    pub admin_token: Option<String>,
    pub platform_token: String,
}

/// Creates the demo tenant (admin + workspace) when the database has no
/// tenant yet, and issues tokens for its admin and a platform admin.
pub async fn ensure(db: &Db, issuer: &JwtIssuer, ttl: Duration) -> AppResult<DemoAccess> {
    let tx = db.begin_platform().await?;
    let mut new_password = None;
    if tenants::Entity::find().count(&tx).await? == 0 {
        let password: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(16)
            .map(char::from)
            .collect();
        let (tenant, admin) = super::tenants::create(
            &tx,
            NewTenant {
                slug: DEMO_SLUG.into(),
                name: "Demo".into(),
                plan: TenantPlan::Free,
                limits: Limits::default(),
                settings: None,
                admin_email: DEMO_EMAIL.into(),
                admin_password: password.clone(),
                admin_display_name: Some("Demo admin".into()),
            },
        )
        .await?;
        let caller = TenantCaller {
            tenant_id: tenant.id.into(),
            user_id: Some(admin.id),
            role: Role::TenantAdmin,
        };
        super::workspaces::create(
            &tx,
            &caller,
            NewWorkspace {
                name: "Demo workspace".into(),
                slug: Some("demo".into()),
                description: Some("Created with the local development database".into()),
                settings: None,
            },
        )
        .await?;
        new_password = Some(password);
    }
    let admin = match tenants::Entity::find()
        .filter(tenants::Column::Slug.eq(DEMO_SLUG))
        .one(&tx)
        .await?
    {
        Some(tenant) => {
            users::Entity::find_in(tenant.id.into())
                .filter(users::Column::Role.eq(UserRole::TenantAdmin))
                .filter(users::Column::Status.eq(UserStatus::Active))
                .order_by_asc(users::Column::CreatedAt)
                .one(&tx)
                .await?
        }
        None => None,
    };
    super::platform_admins::ensure(&tx, DEMO_PLATFORM_ADMIN, "Local platform admin").await?;
    tx.commit().await?;
    let admin_token = match admin {
        Some(admin) => Some(
            issuer
                .issue(&admin.id.to_string(), Some(admin.tenant_id), Role::TenantAdmin, ttl)
                .map_err(crate::error::AppError::internal)?
                .0,
        ),
        None => None,
    };
    let platform_token = issuer
        .issue(DEMO_PLATFORM_ADMIN, None, Role::PlatformAdmin, ttl)
        .map_err(crate::error::AppError::internal)?
        .0;
    Ok(DemoAccess {
        new_password,
        admin_token,
        platform_token,
    })
}
