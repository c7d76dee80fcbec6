//! Parsed documents by their text. Clients send the same few operations
//! again and again, and parsing one (pest) took 14–36 µs on the bench's
//! queries where a copy of the parsed tree took under 1 µs. Bounded by an
//! estimate of the trees' size, least recently used evicted first. Only
//! documents that parsed and passed admission are kept (the gate calls
//! [`ParsedDocuments::keep`] after its checks): a stream of distinct, broken
//! or refused queries costs a parse each, as it would without the cache.

use std::sync::Mutex;

use async_graphql::{
    ServerError,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

/// What the cache may hold, in estimated bytes (see [`entry_bytes`]).
pub const BUDGET_BYTES: usize = 8 << 20;
/// Longer queries are parsed every time (they would crowd out the rest).
pub const MAX_QUERY_BYTES: usize = 16 << 10;

/// The parsed documents, shared by every schema build.
pub struct ParsedDocuments {
    cache: Mutex<Cached>,
}

struct Cached {
    documents: lru::LruCache<String, ExecutableDocument>,
    bytes: usize,
}

/// A parsed tree allocated 13–21 bytes per byte of its text on the bench's
/// four operations (120–250 characters: 1.6–4.5 KB); 24 leaves room for the
/// allocator's rounding, 256 for the key and the map's bookkeeping. A dense
/// text (`{ a b c … }`) holds a field every two bytes, so each selection
/// counts 256 bytes too, whichever estimate is larger.
fn entry_bytes(query: &str, document: &ExecutableDocument) -> usize {
    let selections: usize = document
        .operations
        .iter()
        .map(|(_, op)| selections(&op.node.selection_set.node))
        .chain(
            document
                .fragments
                .values()
                .map(|f| selections(&f.node.selection_set.node)),
        )
        .sum();
    (query.len() * 24).max(selections * 256) + 256
}

/// Selections in `set`, nested ones included.
fn selections(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| {
            1 + match &item.node {
                Selection::Field(field) => selections(&field.node.selection_set.node),
                Selection::InlineFragment(inline) => selections(&inline.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            }
        })
        .sum()
}

impl Default for ParsedDocuments {
    fn default() -> Self {
        Self {
            cache: Mutex::new(Cached {
                documents: lru::LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }
}

impl ParsedDocuments {
    /// `query`'s document, and whether it came from the cache (a copy of the
    /// cached tree) rather than from parsing it now.
    pub fn get_or_parse(&self, query: &str) -> Result<(ExecutableDocument, bool), ServerError> {
        if let Some(document) = self.lock().documents.get(query) {
            return Ok((document.clone(), true));
        }
        Ok((async_graphql::parser::parse_query(query)?, false))
    }

    /// Keeps an admitted document for the next request with the same text.
    pub fn keep(&self, query: &str, document: &ExecutableDocument) {
        if query.len() > MAX_QUERY_BYTES {
            return;
        }
        let size = entry_bytes(query, document);
        let mut cache = self.lock();
        if size > BUDGET_BYTES || cache.documents.contains(query) {
            return;
        }
        cache.documents.put(query.to_owned(), document.clone());
        cache.bytes += size;
        while cache.bytes > BUDGET_BYTES {
            let Some((query, document)) = cache.documents.pop_lru() else {
                break;
            };
            cache.bytes -= entry_bytes(&query, &document);
        }
    }

    /// How many documents are kept, and their estimated bytes.
    pub fn held(&self) -> (usize, usize) {
        let cache = self.lock();
        (cache.documents.len(), cache.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(cache: &ParsedDocuments) -> usize {
        cache.held().0
    }

    fn parse_and_keep(cache: &ParsedDocuments, query: &str) -> bool {
        let (document, cached) = cache.get_or_parse(query).expect("parses");
        cache.keep(query, &document);
        cached
    }

    #[test]
    fn a_kept_query_is_answered_from_the_cache() {
        let cache = ParsedDocuments::default();
        let query = "query($id: UUID!) { session(id: $id) { id title outline { id } } }";
        let (parsed, cached) = cache.get_or_parse(query).expect("parses");
        assert!(!cached);
        assert_eq!(held(&cache), 0, "nothing is kept before admission");
        cache.keep(query, &parsed);
        let (again, cached) = cache.get_or_parse(query).expect("cached");
        assert!(cached);
        assert_eq!(format!("{parsed:?}"), format!("{again:?}"));
        // What the cache holds is what the next request gets.
        let other = async_graphql::parser::parse_query("{ __typename }").expect("parses");
        cache.lock().documents.put(query.to_owned(), other.clone());
        let (served, _) = cache.get_or_parse(query).expect("cached");
        assert_eq!(format!("{served:?}"), format!("{other:?}"));
    }

    #[test]
    fn broken_and_long_queries_are_not_kept() {
        let cache = ParsedDocuments::default();
        assert!(cache.get_or_parse("{ session(id: ").is_err());
        let long = format!("{{ {} }}", "__typename ".repeat(MAX_QUERY_BYTES / 10));
        assert!(long.len() > MAX_QUERY_BYTES);
        assert!(!parse_and_keep(&cache, &long));
        assert!(!parse_and_keep(&cache, &long));
        assert_eq!(held(&cache), 0);
    }

    #[test]
    fn a_dense_document_counts_its_selections() {
        let query = format!("{{ {} }}", "a ".repeat(4_000));
        let document = async_graphql::parser::parse_query(&query).expect("parses");
        assert_eq!(entry_bytes(&query, &document), 4_000 * 256 + 256);
        // Nested selections and the fragments' count too: six here.
        let nested = "{ a { b { c } } ...F } fragment F on Query { d { e } }";
        let document = async_graphql::parser::parse_query(nested).expect("parses");
        assert_eq!(entry_bytes(nested, &document), 6 * 256 + 256);
        // A long argument: the text's estimate is the larger.
        let long = format!("{{ a(s: \"{}\") }}", "x".repeat(1_000));
        let document = async_graphql::parser::parse_query(&long).expect("parses");
        assert_eq!(entry_bytes(&long, &document), long.len() * 24 + 256);
    }

    #[test]
    fn the_least_recently_used_go_first_beyond_the_budget() {
        let cache = ParsedDocuments::default();
        let query = |i: usize| format!("{{ a{i:04}: __typename {} }}", "b: __typename ".repeat(1_000));
        let first = query(0);
        let per_entry = entry_bytes(&first, &async_graphql::parser::parse_query(&first).expect("parses"));
        let fit = BUDGET_BYTES / per_entry;
        for i in 0..fit {
            parse_and_keep(&cache, &query(i));
        }
        assert_eq!(held(&cache), fit);
        // The first is used again, so the second is the one evicted.
        assert!(parse_and_keep(&cache, &query(0)));
        assert!(!parse_and_keep(&cache, &query(fit)));
        assert_eq!(held(&cache), fit);
        let cached = cache.lock();
        assert!(cached.documents.contains(query(0).as_str()));
        assert!(!cached.documents.contains(query(1).as_str()));
        assert!(cached.bytes <= BUDGET_BYTES);
    }
}
