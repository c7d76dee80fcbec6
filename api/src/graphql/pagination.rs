//! Relay connections: arguments, opaque cursors, page-size caps.

use async_graphql::connection::CursorType;
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

impl CursorType for Cursor {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| "invalid cursor".to_owned())?;
        let text = String::from_utf8(bytes).map_err(|_| "invalid cursor".to_owned())?;
        let (micros, id) = text.split_once('|').ok_or("invalid cursor")?;
        let micros: i64 = micros.parse().map_err(|_| "invalid cursor".to_owned())?;
        Ok(Self {
            at: DateTime::from_timestamp_micros(micros).ok_or("invalid cursor")?,
            id: id.parse().map_err(|_| "invalid cursor".to_owned())?,
        })
    }

    fn encode_cursor(&self) -> String {
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
                Cursor::decode_cursor(&c)
                    .map_err(|_| AppError::bad_input(name, format!("`{name}` is not a valid cursor")))
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
        assert_eq!(Cursor::decode_cursor(&c.encode_cursor()), Ok(c));
        assert!(Cursor::decode_cursor("garbage!").is_err());
    }

    #[test]
    fn page_size_is_capped() {
        assert!(Page::new(Some(101), None, None, None, 100).is_err());
        assert!(Page::new(Some(-1), None, None, None, 100).is_err());
        assert!(Page::new(Some(1), None, Some(1), None, 100).is_err());
        assert_eq!(Page::new(None, None, None, None, 100).expect("page").limit, 20);
    }
}
