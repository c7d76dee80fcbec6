//! The SQL text of a mutation's audit row, written into the mutation's own
//! transaction in the same message as its COMMIT (see
//! `audit::insert_and_commit`).
//!
//! sqlx cannot pipeline, so the row cannot travel as bound parameters next
//! to the COMMIT: its values are inlined as literals escaped by sea-query's
//! PostgreSQL builder. Two forms:
//!
//! - `EXECUTE screenplay_audit_insert(…)`: the INSERT is prepared once per
//!   pooled connection ([`prepare_sql`], run when the pool opens the
//!   connection), so PostgreSQL neither analyses nor plans it per mutation.
//!   This took the middleware's cost on a small mutation from 18 % to 14.6 %
//!   in one benchmark run (BENCHMARKS.md).
//! - A plain `INSERT … VALUES (…)`, when the connection has no prepared
//!   statement: behind PgBouncer in transaction mode (server sessions are
//!   shared), when the table did not exist yet as the connection opened, or
//!   in platform transactions (which do not read the marker).
//!
//! Whether a connection has the statement is a session setting
//! ([`PREPARED_MARKER`]) set in the same message as the PREPARE, so the two
//! exist together or not at all; a tenant transaction's first statement
//! reads it back (`db::scope`), so no extra round trip is needed.

use entity::audit_logs;
use sea_orm::{
    ActiveModelTrait, EntityTrait, IdenStatic, Iterable, QueryTrait,
    sea_query::{PostgresQueryBuilder, QueryBuilder},
};

/// Name of the prepared INSERT on each pooled connection.
pub const PREPARED_NAME: &str = "screenplay_audit_insert";
/// Session setting that is `on` where [`PREPARED_NAME`] exists.
pub const PREPARED_MARKER: &str = "screenplay.audit_insert_prepared";

/// PREPAREs the INSERT (parameter types inferred from the columns) and sets
/// the marker, in one simple-query message: if the PREPARE fails, the marker
/// is not set.
pub fn prepare_sql() -> String {
    let columns: Vec<String> = audit_logs::Column::iter()
        .map(|c| format!("\"{}\"", c.as_str()))
        .collect();
    let params: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    format!(
        "PREPARE {PREPARED_NAME} AS INSERT INTO screenplay.audit_logs ({}) VALUES ({}); SET {PREPARED_MARKER} = 'on'",
        columns.join(", "),
        params.join(", ")
    )
}

/// `EXECUTE` of the prepared INSERT with `record`'s values as literals, in
/// the column order of [`prepare_sql`].
pub fn execute_sql(record: audit_logs::Model) -> String {
    let model = audit_logs::ActiveModel::from(record);
    let values: Vec<String> = audit_logs::Column::iter()
        .map(|c| match model.get(c).into_value() {
            Some(value) => PostgresQueryBuilder.value_to_string(&value),
            None => "NULL".to_owned(),
        })
        .collect();
    format!("EXECUTE {PREPARED_NAME}({})", values.join(", "))
}

/// The same row as a plain INSERT, for connections without the statement.
pub fn insert_sql(record: audit_logs::Model) -> String {
    audit_logs::Entity::insert(audit_logs::ActiveModel::from(record))
        .as_query()
        .to_string(PostgresQueryBuilder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_lists_every_column_with_one_parameter_each() {
        let prepare = prepare_sql();
        let columns = audit_logs::Column::iter().count();
        assert!(prepare.contains(&format!("${columns})")), "{prepare}");
        assert!(!prepare.contains(&format!("${}", columns + 1)), "{prepare}");
        assert!(prepare.starts_with("PREPARE screenplay_audit_insert AS INSERT INTO screenplay.audit_logs (\"id\", "));
        assert!(prepare.ends_with("; SET screenplay.audit_insert_prepared = 'on'"));
    }
}
