//! Keyset pages: validated page requests, opaque cursors, page-size caps.
//! The GraphQL layer turns them into Relay connections.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::TenantId;
use crate::error::{AppError, AppResult};

/// A keyset position: `(created_at, id)` of the last row seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    /// Parses the opaque form.
    pub fn decode(s: &str) -> Result<Self, String> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| "invalid cursor".to_owned())?;
        let text = String::from_utf8(bytes).map_err(|_| "invalid cursor".to_owned())?;
        let (micros, id) = text.split_once('|').ok_or("invalid cursor")?;
        let micros: i64 = micros.parse().map_err(|_| "invalid cursor".to_owned())?;
        Ok(Self {
            at: DateTime::from_timestamp_micros(micros).ok_or("invalid cursor")?,
            id: id.parse().map_err(|_| "invalid cursor".to_owned())?,
        })
    }

    /// The opaque form clients pass back.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.at.timestamp_micros(), self.id))
    }
}

/// Rows of a page when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Page {
    /// Rows wanted (the query fetches one more to know if there is a next page).
    pub limit: u64,
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
    /// `last` was given: read from the end.
    pub backward: bool,
}

impl Page {
    /// Checks `first` / `last` against the cap; the default page is [`DEFAULT_PAGE_SIZE`] rows.
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        max_page_size: usize,
    ) -> AppResult<Self> {
        if first.is_some() && last.is_some() {
            return Err(AppError::bad_input("first", "pass `first` or `last`, not both"));
        }
        let check = |name: &str, v: i32| -> AppResult<u64> {
            if v < 0 {
                return Err(AppError::bad_input(name, format!("`{name}` must not be negative")));
            }
            if v as usize > max_page_size {
                return Err(AppError::bad_input(
                    name,
                    format!("`{name}` must be at most {max_page_size}"),
                ));
            }
            Ok(v as u64)
        };
        let decode = |name: &str, c: Option<String>| -> AppResult<Option<Cursor>> {
            c.map(|c| {
                Cursor::decode(&c).map_err(|_| AppError::bad_input(name, format!("`{name}` is not a valid cursor")))
            })
            .transpose()
        };
        let (limit, backward) = match (first, last) {
            (Some(f), None) => (check("first", f)?, false),
            (None, Some(l)) => (check("last", l)?, true),
            _ => (DEFAULT_PAGE_SIZE.min(max_page_size as u64), false),
        };
        Ok(Self {
            limit,
            after: decode("after", after)?,
            before: decode("before", before)?,
            backward,
        })
    }
}

/// Rows of one page and whether more exist beyond it.
#[derive(Debug, Clone)]
pub struct PageResult<T> {
    pub rows: Vec<T>,
    pub has_previous: bool,
    pub has_next: bool,
}

impl<T> Default for PageResult<T> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            has_previous: false,
            has_next: false,
        }
    }
}

impl<T> PageResult<T> {
    /// Trims the extra row the query fetched and puts rows in forward order.
    pub fn from_fetched(mut rows: Vec<T>, page: &Page) -> Self {
        let more = rows.len() as u64 > page.limit;
        rows.truncate(page.limit as usize);
        if page.backward {
            rows.reverse();
            Self {
                rows,
                has_previous: more,
                has_next: page.before.is_some(),
            }
        } else {
            Self {
                rows,
                has_previous: page.after.is_some(),
                has_next: more,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let c = Cursor {
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("time"),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        assert!(Cursor::decode("garbage!").is_err());
    }

    #[test]
    fn page_size_is_capped() {
        assert!(Page::new(Some(101), None, None, None, 100).is_err());
        assert!(Page::new(Some(-1), None, None, None, 100).is_err());
        assert!(Page::new(Some(1), None, Some(1), None, 100).is_err());
        assert_eq!(Page::new(None, None, None, None, 100).expect("page").limit, 20);
    }
}

/// Fetches one page of `select`, newest first by `(created, id)`.
pub async fn fetch<E, C>(
    db: &C,
    select: sea_orm::Select<E>,
    created: E::Column,
    id: E::Column,
    page: &Page,
) -> AppResult<PageResult<E::Model>>
where
    E: sea_orm::EntityTrait,
    C: sea_orm::ConnectionTrait,
{
    fetch_ordered(db, select, created, id, false, page).await
}

/// Fetches one page of `select` ordered by `(time, id)`, oldest first when
/// `ascending`, newest first otherwise. Cursors hold `(time, id)`.
pub async fn fetch_ordered<E, C>(
    db: &C,
    select: sea_orm::Select<E>,
    created: E::Column,
    id: E::Column,
    ascending: bool,
    page: &Page,
) -> AppResult<PageResult<E::Model>>
where
    E: sea_orm::EntityTrait,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::{
        QueryFilter, QueryOrder, QuerySelect,
        sea_query::{Expr, ExprTrait},
    };
    let key = || Expr::tuple([Expr::col(created), Expr::col(id)]);
    let at = |c: &Cursor| Expr::tuple([Expr::val(c.at), Expr::val(c.id)]);
    let mut select = select;
    if let Some(after) = &page.after {
        select = select.filter(if ascending {
            key().gt(at(after))
        } else {
            key().lt(at(after))
        });
    }
    if let Some(before) = &page.before {
        select = select.filter(if ascending {
            key().lt(at(before))
        } else {
            key().gt(at(before))
        });
    }
    let order = if page.backward != ascending {
        sea_orm::Order::Asc
    } else {
        sea_orm::Order::Desc
    };
    let rows = select
        .order_by(created, order.clone())
        .order_by(id, order)
        .limit(page.limit + 1)
        .all(db)
        .await?;
    Ok(PageResult::from_fetched(rows, page))
}

/// A child table read page by page per parent (nested connections loaded
/// for many parents in one statement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildTable {
    /// Table in schema `screenplay`; has `tenant_id`, `created_at` and `id`.
    pub table: &'static str,
    /// The parent's column.
    pub parent: &'static str,
}

/// One page of children for each of `parents`, newest first by
/// `(created_at, id)`, in one statement (`row_number()` per parent).
pub async fn fetch_per_parent<M, C>(
    db: &C,
    child: ChildTable,
    tenant_id: TenantId,
    parents: &[Uuid],
    page: &Page,
    parent_of: impl Fn(&M) -> Option<Uuid>,
) -> AppResult<std::collections::HashMap<Uuid, PageResult<M>>>
where
    M: sea_orm::FromQueryResult,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::{DbBackend, Statement, Value};
    let mut values: Vec<Value> = vec![tenant_id.into(), parents.to_vec().into()];
    let mut filters = String::new();
    let mut cursor = |c: &Cursor, op: &str, values: &mut Vec<Value>| {
        values.push(c.at.into());
        values.push(c.id.into());
        filters.push_str(&format!(
            " AND (t.created_at, t.id) {op} (${}, ${})",
            values.len() - 1,
            values.len()
        ));
    };
    if let Some(after) = &page.after {
        cursor(after, "<", &mut values);
    }
    if let Some(before) = &page.before {
        cursor(before, ">", &mut values);
    }
    let order = if page.backward { "ASC" } else { "DESC" };
    values.push(((page.limit + 1) as i64).into());
    let sql = format!(
        "SELECT * FROM (SELECT t.*, row_number() OVER (PARTITION BY t.{parent} ORDER BY t.created_at {order}, t.id {order}) \
         AS page_rank FROM screenplay.{table} t WHERE t.tenant_id = $1 AND t.{parent} = ANY($2){filters}) ranked \
         WHERE page_rank <= ${n} ORDER BY {parent}, page_rank",
        parent = child.parent,
        table = child.table,
        n = values.len(),
    );
    let rows = M::find_by_statement(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
        .all(db)
        .await?;
    let mut grouped: std::collections::HashMap<Uuid, Vec<M>> = parents.iter().map(|p| (*p, Vec::new())).collect();
    for row in rows {
        if let Some(parent) = parent_of(&row)
            && let Some(list) = grouped.get_mut(&parent)
        {
            list.push(row);
        }
    }
    Ok(grouped
        .into_iter()
        .map(|(parent, rows)| (parent, PageResult::from_fetched(rows, page)))
        .collect())
}

/// Row counts of a child table per parent, in one statement.
pub async fn count_per_parent<C: sea_orm::ConnectionTrait>(
    db: &C,
    child: ChildTable,
    tenant_id: TenantId,
    parents: &[Uuid],
) -> AppResult<std::collections::HashMap<Uuid, u64>> {
    use sea_orm::{DbBackend, Statement};
    let sql = format!(
        "SELECT {parent} AS parent, count(*) AS n FROM screenplay.{table} \
         WHERE tenant_id = $1 AND {parent} = ANY($2) GROUP BY {parent}",
        parent = child.parent,
        table = child.table,
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [tenant_id.into(), parents.to_vec().into()],
        ))
        .await?;
    let mut counts: std::collections::HashMap<Uuid, u64> = parents.iter().map(|p| (*p, 0)).collect();
    for row in rows {
        let parent: Uuid = row.try_get("", "parent")?;
        let n: i64 = row.try_get("", "n")?;
        counts.insert(parent, n.max(0) as u64);
    }
    Ok(counts)
}
