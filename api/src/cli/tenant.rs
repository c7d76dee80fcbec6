//! `screenplay tenant create`: a tenant with its first admin, from the shell.

use clap::Subcommand;
use entity::enums::TenantPlan;

use crate::{
    app::database as setup,
    config::{DatabaseArgs, Secret},
    service::tenants::{self, Limits, NewTenant},
};

#[derive(Debug, Subcommand)]
pub enum TenantAction {
    /// Create a tenant and its first tenant admin.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        /// free, pro or enterprise.
        #[arg(long, default_value = "free")]
        plan: String,
        #[arg(long)]
        admin_email: String,
        /// Or SCREENPLAY_ADMIN_PASSWORD, which keeps it out of the shell history.
        #[arg(long, env = "SCREENPLAY_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: Secret<String>,
        #[arg(long)]
        admin_name: Option<String>,
    },
}

pub async fn run(action: TenantAction, db_args: DatabaseArgs) -> anyhow::Result<()> {
    let TenantAction::Create {
        slug,
        name,
        plan,
        admin_email,
        admin_password,
        admin_name,
    } = action;
    let plan: TenantPlan = plan.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let (_, db) = setup::open_for_command(&db_args).await?;
    let tx = db.begin_platform().await?;
    let (tenant, admin) = tenants::create(
        &tx,
        NewTenant {
            slug,
            name,
            plan,
            limits: Limits::default(),
            settings: None,
            admin_email,
            admin_password: admin_password.expose().clone(),
            admin_display_name: admin_name,
        },
    )
    .await?;
    tx.commit().await?;
    println!("tenant {} ({})", tenant.id, tenant.slug);
    println!("admin  {} ({})", admin.id, admin.email);
    Ok(())
}
