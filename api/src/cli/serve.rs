//! `screenplay serve`.

use crate::{
    config::{Config, DatabaseArgs, ServeArgs},
    http::{Server, ShutdownSignal, os_signals},
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
    tracing::info!(%addr, local_database = database.is_local(), "serving GraphQL at http://{addr}/graphql");
    eprintln!("GraphiQL: http://{addr}/graphql");
    let (trigger, signal) = ShutdownSignal::new();
    tokio::spawn(async move {
        os_signals().await;
        let _ = trigger.send(true);
    });
    server.run(signal).await?;
    tracing::info!("stopped");
    Ok(())
}
