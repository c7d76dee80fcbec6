//! A reranker over HTTP: `POST <url>/rerank` with `{model, query,
//! documents, top_n}`, the API Jina, Cohere and vLLM share (TEI's array
//! answer is read too). Retries and timeouts as for embeddings.

use serde::{Deserialize, Serialize};

use super::{
    http::{provider_client, send_with_retries},
    provider::EmbeddingError,
};
use crate::config::RerankConfig;

/// Reorders candidate texts by relevance to a query.
pub struct Reranker {
    config: RerankConfig,
    client: reqwest::Client,
}

/// The candidates' indexes, most relevant first, with their scores; and
/// the tokens the provider counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Reranked {
    pub order: Vec<(usize, f64)>,
    pub tokens: u64,
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    query: &'a str,
    documents: &'a [String],
    top_n: usize,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Response {
    /// Jina, Cohere, vLLM.
    Results {
        results: Vec<Item>,
        #[serde(default)]
        usage: Option<Usage>,
    },
    /// TEI.
    List(Vec<Item>),
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    #[serde(alias = "score")]
    relevance_score: f64,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    total_tokens: Option<u64>,
}

impl Reranker {
    pub fn new(config: RerankConfig) -> anyhow::Result<Self> {
        let client = provider_client(config.timeout)?;
        Ok(Self { config, client })
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    /// Candidates sent per search.
    pub fn candidates(&self) -> u32 {
        self.config.candidates
    }

    /// `documents` by relevance to `query`, every one of them ranked.
    pub async fn rerank(&self, query: &str, documents: &[String]) -> Result<Reranked, EmbeddingError> {
        if documents.is_empty() {
            return Ok(Reranked {
                order: Vec::new(),
                tokens: 0,
            });
        }
        let body = Request {
            model: &self.config.model,
            query,
            documents,
            top_n: documents.len(),
        };
        let request = || {
            let request = self.client.post(self.config.endpoint.clone()).json(&body);
            match &self.config.api_key {
                Some(key) => request.bearer_auth(key.expose()),
                None => request,
            }
        };
        let resp = send_with_retries(request, self.config.max_retries, self.config.timeout, "rerank").await?;
        let parsed: Response = resp
            .json()
            .await
            .map_err(|e| EmbeddingError::BadResponse(format!("not a rerank response: {e}")))?;
        order(parsed, query, documents)
    }
}

/// Checks the answer: every index once, in range, finite scores; sorted.
fn order(response: Response, query: &str, documents: &[String]) -> Result<Reranked, EmbeddingError> {
    let (items, usage) = match response {
        Response::Results { results, usage } => (results, usage),
        Response::List(items) => (items, None),
    };
    let mut seen = vec![false; documents.len()];
    let mut order = Vec::with_capacity(items.len());
    for item in items {
        if item.index >= documents.len() || std::mem::replace(&mut seen[item.index], true) {
            return Err(EmbeddingError::BadResponse(format!(
                "index {} out of range or repeated",
                item.index
            )));
        }
        if !item.relevance_score.is_finite() {
            return Err(EmbeddingError::BadResponse("a score that is not a number".into()));
        }
        order.push((item.index, item.relevance_score));
    }
    if order.len() != documents.len() {
        return Err(EmbeddingError::BadResponse(format!(
            "{} of {} candidates ranked",
            order.len(),
            documents.len()
        )));
    }
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let tokens = usage.and_then(|u| u.total_tokens).unwrap_or_else(|| {
        let text: u64 = documents.iter().map(|d| crate::text::estimate_tokens(d)).sum();
        text + crate::text::estimate_tokens(query) * documents.len() as u64
    });
    Ok(Reranked { order, tokens })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("doc {i}")).collect()
    }

    #[test]
    fn answers_of_every_shape_are_checked_and_sorted() {
        let jina: Response = serde_json::from_str(
            r#"{"results":[{"index":0,"relevance_score":0.1},{"index":1,"relevance_score":0.9}],"usage":{"total_tokens":12}}"#,
        )
        .unwrap();
        assert_eq!(
            order(jina, "q", &docs(2)).unwrap(),
            Reranked {
                order: vec![(1, 0.9), (0, 0.1)],
                tokens: 12
            }
        );
        let tei: Response = serde_json::from_str(r#"[{"index":1,"score":0.2},{"index":0,"score":0.7}]"#).unwrap();
        assert_eq!(order(tei, "q", &docs(2)).unwrap().order, vec![(0, 0.7), (1, 0.2)]);
        let repeated: Response = serde_json::from_str(r#"[{"index":0,"score":0.2},{"index":0,"score":0.7}]"#).unwrap();
        assert!(order(repeated, "q", &docs(2)).is_err());
        let short: Response = serde_json::from_str(r#"{"results":[{"index":0,"relevance_score":0.5}]}"#).unwrap();
        assert!(order(short, "q", &docs(2)).is_err());
    }
}
