//! `screenplay platform-admin`: the platform admins (and the identity
//! provider subjects allowed to act as one), from the shell.

use clap::Subcommand;

use crate::{
    app::database as setup,
    config::DatabaseArgs,
    service::platform_admins::{self, Change},
};

#[derive(Debug, clap::Args)]
pub struct Who {
    /// The token's `sub`.
    #[arg(long)]
    subject: String,
    /// An identity provider's `iss`; leave out for tokens this server issues.
    #[arg(long, default_value = "")]
    issuer: String,
}

#[derive(Debug, Subcommand)]
pub enum PlatformAdminAction {
    /// Add a platform admin (for an identity provider's subject: --issuer).
    Add {
        #[command(flatten)]
        who: Who,
        #[arg(long)]
        name: Option<String>,
    },
    /// List platform admins.
    List,
    /// Refuse the admin from the next operation on.
    Disable(Who),
    Enable(Who),
    /// Every token issued to the admin until now stops working.
    RevokeTokens(Who),
    Remove(Who),
}

pub async fn run(action: PlatformAdminAction, db_args: DatabaseArgs) -> anyhow::Result<()> {
    let (_, db) = setup::open_for_command(&db_args).await?;
    let tx = db.begin_platform().await?;
    let (who, change) = match action {
        PlatformAdminAction::Add { who, name } => {
            let admin = platform_admins::add(&tx, &who.issuer, &who.subject, name.as_deref()).await?;
            tx.commit().await?;
            println!("platform admin {} ({})", admin.subject, admin.id);
            return Ok(());
        }
        PlatformAdminAction::List => {
            for admin in platform_admins::list(&tx).await? {
                let status = if admin.active { "active" } else { "disabled" };
                let issuer = if admin.issuer.is_empty() {
                    "(this server)"
                } else {
                    &admin.issuer
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    admin.subject,
                    issuer,
                    status,
                    admin.name.unwrap_or_default()
                );
            }
            return Ok(());
        }
        PlatformAdminAction::Disable(who) => (who, Change::Disable),
        PlatformAdminAction::Enable(who) => (who, Change::Enable),
        PlatformAdminAction::RevokeTokens(who) => (who, Change::RevokeTokens),
        PlatformAdminAction::Remove(who) => (who, Change::Remove),
    };
    platform_admins::change(&tx, &who.issuer, &who.subject, change)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", who.subject, e.message()))?;
    tx.commit().await?;
    println!("{change:?}: {}", who.subject);
    Ok(())
}
