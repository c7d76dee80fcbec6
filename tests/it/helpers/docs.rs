//! Documents through the API: ingest and search helpers shared by tests.

use serde_json::{Value, json};
use uuid::Uuid;

use super::TestApp;

pub const INGEST: &str = "mutation($input: IngestDocumentsInput!) { ingestDocuments(input: $input) { \
    added skipped embeddingTokens embeddingModel \
    documents { id sourcePath title content contentHash language chunkIndex chunkCount metadata embeddingModel tokenCount } \
    results { sourcePath chunkCount added skipped documentIds } } }";

pub const SEARCH: &str = "query($input: SearchDocumentsInput!) { searchDocuments(input: $input) { \
    score vectorScore vectorRank keywordScore keywordRank highlight \
    chunk { index count content } document { id title sourcePath language chunkIndex } } }";

impl TestApp {
    /// Ingests `documents` (JSON inputs) into `workspace`; returns the payload.
    pub async fn ingest(&self, token: &str, workspace: Uuid, documents: Value) -> Value {
        self.gql(
            Some(token),
            INGEST,
            json!({ "input": { "workspaceId": workspace, "documents": documents } }),
        )
        .await["ingestDocuments"]
            .clone()
    }

    /// Runs `searchDocuments`; returns the hits.
    pub async fn search(&self, token: &str, input: Value) -> Vec<Value> {
        self.gql(Some(token), SEARCH, json!({ "input": input })).await["searchDocuments"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// The document titles of search hits, in order.
pub fn titles(hits: &[Value]) -> Vec<String> {
    hits.iter()
        .map(|h| h["document"]["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A unit vector along `axis` mixed with `other` (for exact expectations).
pub fn unit(axis: usize, other: usize, mix: f32) -> Vec<f32> {
    let mut v = vec![0f32; 1536];
    v[axis] = 1.0;
    v[other] += mix;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}
