//! Keyset pages: validated page requests, opaque cursors, page-size caps.
//! The GraphQL layer turns them into Relay connections.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// A keyset position: `(created_at, id)` of the last row seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Rows wanted (the query fetches one more to know if there is a next page).
    pub limit: u64,
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
    /// `last` was given: read from the end.
    pub backward: bool,
}

impl Page {
    /// Checks `first` / `last` against the cap; the default page is 20 rows.
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
            _ => (20.min(max_page_size as u64), false),
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
#[derive(Debug)]
pub struct PageResult<T> {
    pub rows: Vec<T>,
    pub has_previous: bool,
    pub has_next: bool,
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
    use sea_orm::{
        QueryFilter, QueryOrder, QuerySelect,
        sea_query::{Expr, ExprTrait},
    };
    let key = || Expr::tuple([Expr::col(created), Expr::col(id)]);
    let at = |c: &Cursor| Expr::tuple([Expr::val(c.at), Expr::val(c.id)]);
    let mut select = select;
    if let Some(after) = &page.after {
        select = select.filter(key().lt(at(after)));
    }
    if let Some(before) = &page.before {
        select = select.filter(key().gt(at(before)));
    }
    let order = if page.backward {
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
