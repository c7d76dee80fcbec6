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
        /// The platform admin (`screenplay platform-admin add`) a
        /// platform_admin token is for.
        #[arg(long)]
        subject: Option<String>,
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
        platform_token_max_ttl: jwt.platform_token_max_ttl,
    });
    let (sub, tenant_id, principal) = match role {
        Role::PlatformAdmin => {
            if tenant.is_some() || user.is_some() {
                anyhow::bail!("a platform_admin token names no tenant and no user");
            }
            let Some(subject) = subject else {
                anyhow::bail!("--subject names the platform admin (see `screenplay platform-admin list`)");
            };
            let principal = Principal::Platform {
                subject: subject.clone(),
                issuer: String::new(),
                issued_at: Some(jsonwebtoken::get_current_timestamp()),
            };
            (subject, None, principal)
        }
        _ => {
            let (Some(tenant_id), Some(user_id)) = (tenant, user) else {
                anyhow::bail!("--tenant and --user are required for role {}", role.as_str());
            };
            let principal = Principal::Tenant {
                tenant_id: tenant_id.into(),
                subject: user_id.to_string(),
                role,
                session: None,
            };
            (user_id.to_string(), Some(tenant_id), principal)
        }
    };
    // The same check every request makes: tenant active, user enabled and
    // in this role; or the platform admin present and enabled.
    let entry = begin_as(&db, &principal)
        .await
        .map_err(|e| anyhow::anyhow!("cannot issue this token: {}", e.message()))?;
    entry.tx.rollback().await?;
    let (token, _) = issuer.issue(&sub, tenant_id, role, ttl)?;
    println!("{token}");
    Ok(())
}
