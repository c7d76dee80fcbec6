//! The keyword channel: `screenplay.search_by_keywords` (words stemmed by
//! the language's text search configuration, CJK text as character pairs,
//! and the query as a phrase: exact spans rank first, see [`exactness`]).

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use super::query::{Scored, SearchFilter};
use crate::error::AppResult;

/// How exactly a keyword hit matches its query: the whole part of its score
/// (4 the title is the query, 2 the whole query appears as a phrase or the
/// title is a one-word query, 1 every segment of it does, 0 some words only;
/// the fraction is `ts_rank`). `screenplay.keyword_matches` scores so.
pub fn exactness(score: f64) -> u8 {
    score.floor().clamp(0.0, 4.0) as u8
}

/// The best `limit` keyword matches of `query` in a workspace.
pub async fn search(
    db: &impl ConnectionTrait,
    workspace_id: Uuid,
    query: &str,
    limit: u32,
    filter: &SearchFilter,
) -> AppResult<Vec<Scored>> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT id, score, rank FROM screenplay.search_by_keywords($1, $2, $3, NULL, $4, $5, $6)",
            [
                workspace_id.into(),
                query.to_owned().into(),
                (limit as i32).into(),
                filter.language.clone().into(),
                filter.source_path_prefix.clone().into(),
                filter.metadata.clone().into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Scored {
                id: row.try_get("", "id")?,
                score: row.try_get("", "score")?,
                rank: row.try_get::<i32>("", "rank")? as u32,
            })
        })
        .collect()
}
