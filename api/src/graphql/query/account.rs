use async_graphql::{Context, Object};

use crate::{
    auth::Role,
    graphql::{context::ContextExt, guards::SignedIn, types::Me},
    request::Caller,
    service::{tenants, users},
};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The caller: role, and for tenant callers the user and tenant.
    #[graphql(guard = "SignedIn")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        let (tx, caller) = ctx.scope().open().await?;
        Ok(match caller {
            Caller::Platform { subject } => Me {
                subject,
                role: Role::PlatformAdmin,
                user: None,
                tenant: None,
            },
            Caller::Tenant(caller) => {
                let user = match caller.user_id {
                    Some(id) => Some(users::get(&*tx, &caller, id).await?.into()),
                    None => None,
                };
                let tenant = tenants::get(&*tx, caller.tenant_id.uuid()).await?;
                Me {
                    subject: ctx.principal().subject().unwrap_or_default().to_owned(),
                    role: caller.role,
                    user,
                    tenant: Some(tenant.into()),
                }
            }
        })
    }
}
