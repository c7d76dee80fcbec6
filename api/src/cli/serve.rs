//! `screenplay serve`.

use crate::{
    config::{Config, DatabaseArgs, ServeArgs},
    http::{Server, ShutdownSignal, os_signals},
    maintenance::scheduler::Scheduler,
    startup,
};

pub async fn run(args: ServeArgs, db_args: DatabaseArgs, no_migrate: bool) -> anyhow::Result<()> {
    let config = Config::from_args(args)?;
    let database = startup::resolve_database(&db_args).await?;
    if !no_migrate {
        startup::migrate(&database).await?;
    }
    let db = startup::connect(&database, &db_args).await?;
    let state = startup::build_state(config, db, &database).await?;
    let server = Server::bind(state.config.bind, state.clone()).await?;
    let addr = server.local_addr();
    if database.is_local() {
        print_demo_access(&state).await?;
    }
    tracing::info!(%addr, local_database = database.is_local(), "serving GraphQL at http://{addr}/graphql");
    eprintln!("GraphiQL: http://{addr}/graphql");
    let (trigger, signal) = ShutdownSignal::new();
    tokio::spawn(async move {
        os_signals().await;
        let _ = trigger.send(true);
    });
    if let Some(plan) = state.config.maintenance_schedule.clone() {
        let instance = format!("{addr}-{}", std::process::id());
        let scheduler = Scheduler::new(database.migration_url.clone(), plan, instance);
        tokio::spawn(scheduler.run(signal.clone()));
    }
    server.run(signal).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Local development only: the demo tenant and tokens for GraphiQL.
async fn print_demo_access(state: &crate::state::AppState) -> anyhow::Result<()> {
    let ttl = std::time::Duration::from_secs(12 * 3600);
    let access = crate::service::demo::ensure(&state.db, &state.issuer, ttl).await?;
    eprintln!("Local development database (never used when DATABASE_URL is set):");
    if let Some(password) = &access.new_password {
        eprintln!(
            "  demo tenant `{}` created; admin {} password {password} (shown once)",
            crate::service::demo::DEMO_SLUG,
            crate::service::demo::DEMO_EMAIL
        );
    }
    if let Some(token) = &access.admin_token {
        eprintln!("  GraphiQL headers (demo tenant admin, 12 h): {{\"Authorization\": \"Bearer {token}\"}}");
    }
    eprintln!("  platform admin token (12 h): {}", access.platform_token);
    Ok(())
}
