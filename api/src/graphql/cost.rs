//! What list fields cost (async-graphql's `complexity`): a field costs 1
//! plus its children, and a list's children count once per row it may
//! return, so `first: 100` costs a hundred times `first: 1` and nested
//! pages multiply.

use crate::service::page::DEFAULT_PAGE_SIZE;

/// Rows assumed for a list without a size argument (an outline's steps, a
/// fragment's versions): these are bounded by the data, not by the caller.
const UNBOUNDED_LIST_ROWS: usize = 5;
/// Hits of a search without `limit`.
const DEFAULT_SEARCH_HITS: usize = 10;
/// The work of one search beyond its hits: embedding the query and
/// probing the indexes.
const SEARCH_WORK: usize = 10;
/// One field's cost at most, so that sums of siblings cannot overflow.
const CEILING: usize = 1 << 40;

/// A connection with `first` / `last`.
pub fn page(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.or(last).map_or(DEFAULT_PAGE_SIZE as usize, rows_of);
    rows_times(rows, child_complexity)
}

/// A list the caller cannot size.
pub fn list(child_complexity: usize) -> usize {
    rows_times(UNBOUNDED_LIST_ROWS, child_complexity)
}

/// `searchDocuments`: its hits, and the search itself.
pub fn search(limit: Option<i32>, child_complexity: usize) -> usize {
    let rows = limit.map_or(DEFAULT_SEARCH_HITS, rows_of);
    rows_times(rows, child_complexity)
        .saturating_add(SEARCH_WORK)
        .min(CEILING)
}

fn rows_of(n: i32) -> usize {
    usize::try_from(n).unwrap_or(0).max(1)
}

fn rows_times(rows: usize, child_complexity: usize) -> usize {
    rows.saturating_mul(child_complexity).saturating_add(1).min(CEILING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_multiply_their_children() {
        assert_eq!(page(Some(100), None, 3), 301);
        assert_eq!(page(None, Some(1), 3), 4);
        assert_eq!(page(None, None, 3), 61);
        assert_eq!(page(Some(i32::MAX), None, usize::MAX), CEILING);
        assert_eq!(search(None, 2), 31);
    }
}
