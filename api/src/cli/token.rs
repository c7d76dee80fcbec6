//! `screenplay token issue`: signed access tokens for platform admins and
//! agent workers.

use std::time::Duration;

use clap::Subcommand;
use uuid::Uuid;

use crate::{
    app::database as setup,
    auth::{Principal, Role, jwt::JwtIssuer},
    config::{AuthConfig, DatabaseArgs, IdpConfig, JwtArgs, parse_duration},
    request::begin_as,
};

#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Print a signed access token.
    Issue {
        /// platform_admin, tenant_admin, member, viewer or agent.
        #[arg(long)]
        role: String,
        /// The tenant (every role but platform_admin).
        #[arg(long)]
        tenant: Option<Uuid>,
        /// The user (every role but platform_admin); must exist with this role.
        #[arg(long)]
        user: Option<Uuid>,
        /// Subject of a platform admin token.
        #[arg(long, default_value = "platform-admin")]
        subject: String,
        /// Lifetime, e.g. 1h, 30d.
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        ttl: Duration,
        #[command(flatten)]
        jwt: JwtArgs,
    },
}

pub async fn run(action: TokenAction, db_args: DatabaseArgs) -> anyhow::Result<()> {
    let TokenAction::Issue {
        role,
        tenant,
        user,
        subject,
        ttl,
        jwt,
    } = action;
    let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("unknown role `{role}`"))?;
    let (database, db) = setup::open_for_command(&db_args).await?;
    let issuer = JwtIssuer::from_config(&AuthConfig {
        jwt_secret: Some(setup::signing_secret(&jwt, &database)?),
        idp: IdpConfig::default(),
        issuer: jwt.jwt_issuer.clone(),
        audience: jwt.jwt_audience.clone(),
        access_token_ttl: ttl,
        refresh_token_ttl: ttl,
    });
    let (token, _) = match role {
        Role::PlatformAdmin => {
            if tenant.is_some() || user.is_some() {
                anyhow::bail!("a platform_admin token names no tenant and no user");
            }
            issuer.issue(&subject, None, role, ttl)?
        }
        _ => {
            let (Some(tenant_id), Some(user_id)) = (tenant, user) else {
                anyhow::bail!("--tenant and --user are required for role {}", role.as_str());
            };
            // The same check every request makes: tenant active, user enabled, role current.
            let principal = Principal::Tenant {
                tenant_id: tenant_id.into(),
                subject: user_id.to_string(),
                role,
            };
            let entry = begin_as(&db, &principal)
                .await
                .map_err(|e| anyhow::anyhow!("cannot issue this token: {}", e.message()))?;
            entry.tx.rollback().await?;
            issuer.issue(&user_id.to_string(), Some(tenant_id), role, ttl)?
        }
    };
    println!("{token}");
    Ok(())
}
