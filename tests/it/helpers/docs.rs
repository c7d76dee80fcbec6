//! Documents through the API: ingest and search helpers shared by tests.

use serde_json::{Value, json};
use uuid::Uuid;

use super::TestApp;

pub const INGEST: &str = "mutation($input: IngestDocumentsInput!) { ingestDocuments(input: $input) { \
    added skipped embeddingTokens embeddingModel job { id status totalChunks readyChunks } \
    documents { id sourcePath title content contentHash language chunkIndex chunkCount metadata embeddingModel tokenCount \
      status } \
    results { sourcePath chunkCount added skipped documentIds } } }";

pub const JOB: &str = "query($id: UUID!) { ingestionJob(id: $id) { id status totalChunks readyChunks failedChunks \
    embeddingTokens attempts lastError } }";

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

    /// Polls `ingestionJob` until the job is `COMPLETED` or `FAILED` (30 s
    /// at most); returns it.
    pub async fn wait_for_job(&self, token: &str, id: &Value) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let job = self.gql(Some(token), JOB, json!({ "id": id })).await["ingestionJob"].clone();
            if job["status"] == "COMPLETED" || job["status"] == "FAILED" {
                return job;
            }
            assert!(std::time::Instant::now() < deadline, "job still {job}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
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
/// `values` as base64 of little-endian float32, as OpenAI sends them.
pub fn b64(values: &[f32]) -> String {
    use base64::Engine as _;
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unit(axis: usize, other: usize, mix: f32) -> Vec<f32> {
    let mut v = vec![0f32; 1536];
    v[axis] = 1.0;
    v[other] += mix;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}
