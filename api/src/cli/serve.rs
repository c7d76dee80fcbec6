//! `screenplay serve`.

use crate::{
    app::Application,
    config::{Config, DatabaseArgs, ServeArgs},
    runtime::{ShutdownSignal, os_signals},
    service::demo::{DEMO_EMAIL, DEMO_SLUG, DemoAccess},
};

pub async fn run(args: ServeArgs, db_args: DatabaseArgs) -> anyhow::Result<()> {
    let app = Application::build(Config::from_args(args, db_args)?).await?;
    let addr = app.local_addr();
    let local = app.database().is_local();
    if let Some(demo) = app.demo() {
        print_demo_access(demo);
    }
    // Signal handlers first: once the address is printed, SIGTERM must stop gracefully.
    let stop = os_signals();
    let (trigger, signal) = ShutdownSignal::new();
    tokio::spawn(async move {
        stop.await;
        let _ = trigger.send(true);
    });
    tracing::info!(%addr, local_database = local, "serving GraphQL at http://{addr}/graphql");
    eprintln!("GraphiQL: http://{addr}/graphql");
    app.run_until_stopped(signal).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Local development only: the demo tenant and tokens for GraphiQL.
fn print_demo_access(access: &DemoAccess) {
    eprintln!("Local development database (never used when DATABASE_URL is set):");
    if let Some(password) = &access.new_password {
        eprintln!("  demo tenant `{DEMO_SLUG}` created; admin {DEMO_EMAIL} password {password} (shown once)");
    }
    if let Some(token) = &access.admin_token {
        eprintln!("  GraphiQL headers (demo tenant admin, 12 h): {{\"Authorization\": \"Bearer {token}\"}}");
    }
    eprintln!("  platform admin token (12 h): {}", access.platform_token);
}
