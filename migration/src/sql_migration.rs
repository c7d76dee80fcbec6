use sea_orm_migration::prelude::*;

/// A migration whose steps are SQL scripts run as one batch.
pub(crate) struct SqlMigration {
    pub(crate) name: &'static str,
    pub(crate) up: &'static str,
    pub(crate) down: &'static str,
}

impl MigrationName for SqlMigration {
    fn name(&self) -> &str {
        self.name
    }
}

// The trait's signature (from async_trait) elides the manager's lifetime.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for SqlMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, self.name, "up", self.up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, self.name, "down", self.down).await
    }
}

async fn run(manager: &SchemaManager<'_>, name: &str, step: &str, sql: &str) -> Result<(), DbErr> {
    manager
        .get_connection()
        .execute_unprepared(sql)
        .await
        .map(|_| ())
        .map_err(|e| DbErr::Migration(format!("{name} ({step}): {e}")))
}
