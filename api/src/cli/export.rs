//! `screenplay export --session ID --format fountain`: a session's
//! screenplay from the shell (the same rendering as `Session.screenplay`).

use std::path::PathBuf;

use anyhow::Context;
use entity::screenplay_sessions;
use sea_orm::{EntityTrait, QuerySelect};
use uuid::Uuid;

use crate::{
    app::database as setup,
    auth::TenantCaller,
    config::DatabaseArgs,
    domain::TenantId,
    service::export::{self, Format},
};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The session to export.
    #[arg(long)]
    session: Uuid,
    /// fountain, plain or json.
    #[arg(long, default_value = "fountain")]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

pub async fn run(args: ExportArgs, db_args: DatabaseArgs) -> anyhow::Result<()> {
    let (_, db) = setup::open_for_command(&db_args).await?;
    // Which tenant owns the session (the platform role sees every tenant) ...
    let platform = db.begin_platform().await?;
    let tenant_id: Option<Uuid> = screenplay_sessions::Entity::find_by_id(args.session)
        .select_only()
        .column(screenplay_sessions::Column::TenantId)
        .into_tuple()
        .one(&platform)
        .await?;
    platform.rollback().await?;
    let tenant_id = TenantId::from(tenant_id.with_context(|| format!("session {} not found", args.session))?);
    // ... then read it as that tenant, under row-level security.
    let tx = db.begin_tenant(tenant_id).await?;
    let text = export::load_and_render(&tx, &TenantCaller::system(tenant_id), args.session, args.format).await?;
    tx.rollback().await?;
    match args.output {
        Some(path) => std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
