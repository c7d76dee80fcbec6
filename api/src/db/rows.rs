//! Rows of the models read in bulk (fragments, outline steps, and the
//! document chunks every search returns), decoded by position.
//!
//! sea-orm decodes every column by name, and reads a NULL into an `Option`
//! by first formatting an error message (`format!("{idx:?}")`) that it then
//! drops: on the nested session page (1,000 fragments, 200 steps) sea-orm's
//! decoding was 4.5 % of the bench process's CPU, and reading these rows by
//! position took CPU per page from 11.0 to 9.0 ms (BENCHMARKS.md). Here the
//! names are looked up once per result and each row is read by position
//! through sqlx, whose `Option` decoding costs nothing for NULL. The column
//! types are checked once per result, against the result's column types:
//! sqlx's check of every value (`try_get`) was 5 % of the bench process's
//! CPU on its own.

use std::marker::PhantomData;

use sea_orm::{
    ConnectionTrait, DbBackend, EntityTrait, QueryResult, QueryTrait, Select, Statement,
    sqlx::{Column as _, Row as _, postgres::PgRow},
};

use crate::error::{AppError, AppResult};
use entity::{outline_steps, screenplay_fragments};

/// A model read column by column in the order of [`Positional::COLUMNS`].
pub trait Positional: Sized {
    /// The selected columns this model reads, in field order.
    const COLUMNS: &'static [&'static str];
    /// One row; `at[i]` is where `COLUMNS[i]` stands in the row. `checked`:
    /// check each column's type against the field's (once per result: the
    /// rows of a result share their column types).
    fn decode(row: &PgRow, at: &[usize], checked: bool) -> Result<Self, sea_orm::sqlx::Error>;
}

/// Runs `select` and decodes its rows by position.
pub async fn all<E>(db: &impl ConnectionTrait, select: Select<E>) -> AppResult<Vec<E::Model>>
where
    E: EntityTrait,
    E::Model: Positional,
{
    all_raw(db, select.build(DbBackend::Postgres)).await
}

/// Runs a statement and decodes its rows by position.
pub async fn all_raw<M: Positional>(db: &impl ConnectionTrait, statement: Statement) -> AppResult<Vec<M>> {
    let rows = db.query_all_raw(statement).await?;
    let mut decoder = Decoder::default();
    rows.iter().map(|row| decoder.row(row)).collect()
}

/// Decodes the rows of one result by position: the names are looked up and
/// the types checked at the first row it is given.
pub struct Decoder<M> {
    at: Option<Vec<usize>>,
    model: PhantomData<M>,
}

impl<M> Default for Decoder<M> {
    fn default() -> Self {
        Decoder {
            at: None,
            model: PhantomData,
        }
    }
}

impl<M: Positional> Decoder<M> {
    /// One row of the result.
    pub fn row(&mut self, row: &QueryResult) -> AppResult<M> {
        let row = pg_row(row)?;
        let first = self.at.is_none();
        if first {
            self.at = Some(positions::<M>(row)?);
        }
        let at = self.at.as_deref().unwrap_or_default();
        M::decode(row, at, first).map_err(decode_error)
    }
}

fn pg_row(row: &QueryResult) -> AppResult<&PgRow> {
    row.try_as_pg_row()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("not a PostgreSQL row")))
}

/// Where each of the model's columns stands in the result.
fn positions<M: Positional>(row: &PgRow) -> AppResult<Vec<usize>> {
    M::COLUMNS
        .iter()
        .map(|name| {
            row.columns()
                .iter()
                .position(|c| c.name() == *name)
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("column `{name}` missing from the result")))
        })
        .collect()
}

fn decode_error(e: sea_orm::sqlx::Error) -> AppError {
    AppError::internal(anyhow::anyhow!("decoding a row: {e}"))
}

/// Column `i` of a row; `checked`: its declared type first (not its value's,
/// which a NULL lacks), as sqlx's `try_get` does for every value.
pub fn column<'r, T>(row: &'r PgRow, i: usize, checked: bool) -> Result<T, sea_orm::sqlx::Error>
where
    T: sea_orm::sqlx::Decode<'r, sea_orm::sqlx::Postgres> + sea_orm::sqlx::Type<sea_orm::sqlx::Postgres>,
{
    if checked {
        let column = row.try_column(i)?;
        if !T::compatible(column.type_info()) {
            let message = format!(
                "column `{}` is {}, not {}",
                column.name(),
                column.type_info(),
                T::type_info()
            );
            return Err(sea_orm::sqlx::Error::Decode(message.into()));
        }
    }
    row.try_get_unchecked(i)
}

/// A text column read into one of the entity's text enums.
pub fn text_enum<T: std::str::FromStr<Err = String>>(
    row: &PgRow,
    i: usize,
    checked: bool,
) -> Result<T, sea_orm::sqlx::Error> {
    let text: &str = column(row, i, checked)?;
    text.parse().map_err(|e: String| sea_orm::sqlx::Error::Decode(e.into()))
}

/// `impl Positional` for a model: each field is `name` (read as its own
/// type) or `name as enum` (a text column parsed into an entity enum).
macro_rules! positional {
    ($model:path { $($field:ident $(as $conv:ident)?),+ $(,)? }) => {
        impl $crate::db::rows::Positional for $model {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
            fn decode(
                row: &sea_orm::sqlx::postgres::PgRow,
                at: &[usize],
                checked: bool,
            ) -> Result<Self, sea_orm::sqlx::Error> {
                let mut at = at.iter().copied();
                Ok(Self {
                    $($field: $crate::db::rows::positional!(
                        @read row, at.next().unwrap_or(usize::MAX), checked $(, $conv)?
                    )),+
                })
            }
        }
    };
    (@read $row:ident, $i:expr, $checked:ident) => { $crate::db::rows::column($row, $i, $checked)? };
    (@read $row:ident, $i:expr, $checked:ident, enum) => { $crate::db::rows::text_enum($row, $i, $checked)? };
}
pub(crate) use positional;

positional!(screenplay_fragments::Model {
    id,
    tenant_id,
    session_id,
    step_id,
    position,
    kind as enum,
    character,
    content,
    version,
    origin as enum,
    agent_name,
    token_count,
    created_by,
    created_at,
    updated_at,
});

positional!(outline_steps::Model {
    id,
    tenant_id,
    session_id,
    parent_step_id,
    position,
    title,
    description,
    status as enum,
    agent_name,
    error,
    started_at,
    finished_at,
    created_at,
    updated_at,
});
