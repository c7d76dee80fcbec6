//! Batches of rows written in statements of one shape.

use sea_orm::{DbBackend, Statement};

/// `INSERT INTO {table} ({columns}) SELECT {columns} FROM
/// jsonb_populate_recordset(NULL::{table}, $1) {tail}`. The rows travel as
/// one JSON array of objects keyed by column name, so the statement has one
/// shape whatever their number: one prepared statement per pooled
/// connection, where a `VALUES` list of one placeholder per value was a
/// statement per row count (an ingest's INSERT of 10 to 200 chunks kept
/// about 1 MB per size prepared, before any plan).
/// Only `columns` are written: a column left out keeps its default, a key
/// missing from a row writes NULL. `tail` follows the SELECT (`ON CONFLICT
/// …`, `RETURNING …`).
pub fn insert_rows(table: &str, columns: &str, rows: Vec<serde_json::Value>, tail: &str) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "INSERT INTO {table} ({columns}) SELECT {columns} \
             FROM jsonb_populate_recordset(NULL::{table}, $1::jsonb) {tail}"
        ),
        [serde_json::Value::Array(rows).into()],
    )
}
