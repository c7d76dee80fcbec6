//! Relay connections built from service pages.

use std::sync::Arc;

use async_graphql::{
    Object, OutputType,
    connection::{Connection, Edge, EmptyFields},
    futures_util::future::BoxFuture,
};

use crate::{
    error::AppResult,
    service::page::{Cursor, PageResult},
};

/// `totalCount`, counted only when asked for.
#[derive(Clone)]
pub struct TotalCount(Arc<dyn Fn() -> BoxFuture<'static, AppResult<u64>> + Send + Sync>);

impl TotalCount {
    pub fn new<F>(count: F) -> Self
    where
        F: Fn() -> BoxFuture<'static, AppResult<u64>> + Send + Sync + 'static,
    {
        Self(Arc::new(count))
    }
}

#[Object]
impl TotalCount {
    /// Rows matching the filter, across all pages.
    async fn total_count(&self) -> async_graphql::Result<u64> {
        Ok((self.0)().await?)
    }
}

/// A connection whose edges carry opaque keyset cursors.
pub type Page<T> = Connection<String, T, TotalCount, EmptyFields>;

/// Turns a page of rows into a connection.
pub fn page<M, T: OutputType>(
    result: PageResult<M>,
    cursor: impl Fn(&M) -> Cursor,
    node: impl Fn(M) -> T,
    total: TotalCount,
) -> Page<T> {
    let mut conn = Connection::with_additional_fields(result.has_previous, result.has_next, total);
    conn.edges.extend(
        result
            .rows
            .into_iter()
            .map(|row| Edge::new(cursor(&row).encode(), node(row))),
    );
    conn
}

/// The keyset cursor of a row with `created_at` and `id`.
pub fn cursor(created_at: &chrono::DateTime<chrono::FixedOffset>, id: uuid::Uuid) -> Cursor {
    Cursor {
        at: created_at.with_timezone(&chrono::Utc),
        id,
    }
}
