use async_graphql::{Context, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use entity::enums;
use uuid::Uuid;

use crate::{
    auth::Action,
    graphql::{
        context::ContextExt,
        guards::Allow,
        types::{Tenant, TenantPlan, User},
    },
    service::tenants::{self, Limits, LimitsChange, NewTenant, TenantChange},
};

/// Limits of a new tenant; omitted means unlimited.
#[derive(InputObject, Default)]
pub struct TenantLimitsInput {
    pub requests_per_minute: Option<i32>,
    pub llm_tokens_per_day: Option<i64>,
    pub embedding_tokens_per_month: Option<i64>,
    pub max_documents: Option<i32>,
}

/// A change of limits: omitted keeps a limit, null removes it.
#[derive(InputObject, Default)]
pub struct TenantLimitsChange {
    pub requests_per_minute: MaybeUndefined<i32>,
    pub llm_tokens_per_day: MaybeUndefined<i64>,
    pub embedding_tokens_per_month: MaybeUndefined<i64>,
    pub max_documents: MaybeUndefined<i32>,
}

#[derive(InputObject)]
pub struct CreateTenantInput {
    pub slug: String,
    pub name: String,
    #[graphql(default_with = "TenantPlan::Free")]
    pub plan: TenantPlan,
    pub limits: Option<TenantLimitsInput>,
    pub settings: Option<Json<serde_json::Value>>,
    pub admin_email: String,
    #[graphql(secret)]
    pub admin_password: String,
    pub admin_display_name: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateTenantInput {
    pub id: Uuid,
    pub name: Option<String>,
    pub plan: Option<TenantPlan>,
    pub limits: Option<TenantLimitsChange>,
    pub settings: Option<Json<serde_json::Value>>,
}

#[derive(SimpleObject)]
pub struct CreateTenantPayload {
    pub tenant: Tenant,
    /// The tenant's first tenant admin.
    pub admin: User,
}

#[derive(SimpleObject)]
pub struct TenantPayload {
    pub tenant: Tenant,
}

#[derive(SimpleObject)]
pub struct DeleteTenantPayload {
    pub deleted_tenant_id: Uuid,
}

fn change<T: Copy>(value: &MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(*v)),
    }
}

#[derive(Default)]
pub struct TenantMutation;

#[Object]
impl TenantMutation {
    /// Creates a tenant with its first tenant admin (platform admins).
    #[graphql(guard = "Allow(Action::ManageTenants)")]
    async fn create_tenant(
        &self,
        ctx: &Context<'_>,
        input: CreateTenantInput,
    ) -> async_graphql::Result<CreateTenantPayload> {
        let tx = ctx.scope().platform().await?;
        let limits = input.limits.unwrap_or_default();
        let (tenant, admin) = tenants::create(
            &*tx,
            NewTenant {
                slug: input.slug,
                name: input.name,
                plan: input.plan.into(),
                limits: Limits {
                    requests_per_minute: limits.requests_per_minute,
                    llm_tokens_per_day: limits.llm_tokens_per_day,
                    embedding_tokens_per_month: limits.embedding_tokens_per_month,
                    max_documents: limits.max_documents,
                },
                settings: input.settings.map(|j| j.0),
                admin_email: input.admin_email,
                admin_password: input.admin_password,
                admin_display_name: input.admin_display_name,
            },
        )
        .await?;
        ctx.scope().note_change("tenant", tenant.id, None, Some(&tenant));
        ctx.scope().note_change("user", admin.id, None, Some(&admin));
        Ok(CreateTenantPayload {
            tenant: tenant.into(),
            admin: admin.into(),
        })
    }

    /// Changes a tenant's name, plan, limits or settings (platform admins).
    #[graphql(guard = "Allow(Action::ManageTenants)")]
    async fn update_tenant(&self, ctx: &Context<'_>, input: UpdateTenantInput) -> async_graphql::Result<TenantPayload> {
        let tx = ctx.scope().platform().await?;
        let limits = input.limits.unwrap_or_default();
        let (before, tenant) = tenants::update(
            &*tx,
            input.id,
            TenantChange {
                name: input.name,
                plan: input.plan.map(Into::into),
                limits: LimitsChange {
                    requests_per_minute: change(&limits.requests_per_minute),
                    llm_tokens_per_day: change(&limits.llm_tokens_per_day),
                    embedding_tokens_per_month: change(&limits.embedding_tokens_per_month),
                    max_documents: change(&limits.max_documents),
                },
                settings: input.settings.map(|j| j.0),
            },
        )
        .await?;
        ctx.scope()
            .note_change("tenant", tenant.id, Some(&before), Some(&tenant));
        Ok(TenantPayload { tenant: tenant.into() })
    }

    /// Suspends a tenant: its tokens are refused from the next request on.
    #[graphql(guard = "Allow(Action::ManageTenants)")]
    async fn suspend_tenant(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<TenantPayload> {
        let tx = ctx.scope().platform().await?;
        let (before, tenant) = tenants::set_status(&*tx, id, enums::TenantStatus::Suspended).await?;
        ctx.scope().note_change("tenant", id, Some(&before), Some(&tenant));
        Ok(TenantPayload { tenant: tenant.into() })
    }

    /// Reactivates a suspended tenant.
    #[graphql(guard = "Allow(Action::ManageTenants)")]
    async fn reactivate_tenant(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<TenantPayload> {
        let tx = ctx.scope().platform().await?;
        let (before, tenant) = tenants::set_status(&*tx, id, enums::TenantStatus::Active).await?;
        ctx.scope().note_change("tenant", id, Some(&before), Some(&tenant));
        Ok(TenantPayload { tenant: tenant.into() })
    }

    /// Deletes a tenant and all its data.
    #[graphql(guard = "Allow(Action::ManageTenants)")]
    async fn delete_tenant(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<DeleteTenantPayload> {
        let tx = ctx.scope().platform().await?;
        let tenant = tenants::delete(&*tx, id).await?;
        ctx.scope().note_change("tenant", id, Some(&tenant), None);
        Ok(DeleteTenantPayload {
            deleted_tenant_id: tenant.id,
        })
    }
}
