//! An OpenAI-compatible `/v1/embeddings` client (or Azure OpenAI's
//! dialect of it): batches of `batch_size` texts, a timeout per request,
//! retries with exponential backoff (and the server's `Retry-After`) on 429,
//! 5xx, timeouts and connection errors.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::provider::{Embedder, EmbeddingError, Embeddings, pad};
use crate::config::{EMBEDDING_DIMENSIONS, HttpEmbeddingConfig, ProviderFlavor};

/// First retry delay; doubled per attempt, capped at [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

pub struct HttpEmbedder {
    config: HttpEmbeddingConfig,
    client: reqwest::Client,
}

#[derive(Serialize)]
struct Request<'a> {
    /// Azure names the model by the deployment in the URL instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    input: &'a [String],
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Item {
    embedding: Vec<f32>,
    #[serde(default)]
    index: Option<usize>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens: Option<u64>,
}

impl HttpEmbedder {
    pub fn new(config: HttpEmbeddingConfig) -> anyhow::Result<Self> {
        let client = provider_client(config.timeout)?;
        Ok(Self { config, client })
    }

    /// One request, retried.
    async fn embed_batch(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, u64), EmbeddingError> {
        let azure = self.config.flavor == ProviderFlavor::Azure;
        let body = Request {
            model: (!azure).then_some(self.config.model.as_str()),
            input: texts,
            encoding_format: "float",
            dimensions: self.config.dimensions,
        };
        let request = || {
            let request = self.client.post(self.config.endpoint.clone()).json(&body);
            match (&self.config.api_key, azure) {
                (Some(key), true) => request.header("api-key", key.expose()),
                (Some(key), false) => request.bearer_auth(key.expose()),
                (None, _) => request,
            }
        };
        let resp = send_with_retries(request, self.config.max_retries, self.config.timeout, "embedding").await?;
        let parsed: Response = resp
            .json()
            .await
            .map_err(|e| EmbeddingError::BadResponse(format!("not an embeddings response: {e}")))?;
        self.vectors(parsed, texts)
    }

    fn vectors(&self, mut response: Response, texts: &[String]) -> Result<(Vec<Vec<f32>>, u64), EmbeddingError> {
        if response.data.len() != texts.len() {
            return Err(EmbeddingError::BadResponse(format!(
                "{} embeddings for {} inputs",
                response.data.len(),
                texts.len()
            )));
        }
        if response.data.iter().all(|item| item.index.is_some()) {
            response.data.sort_by_key(|item| item.index);
        }
        let expected = self.config.dimensions;
        let mut vectors = Vec::with_capacity(texts.len());
        for item in response.data {
            let n = item.embedding.len();
            if n == 0 || n > EMBEDDING_DIMENSIONS || expected.is_some_and(|d| d != n) {
                return Err(EmbeddingError::BadResponse(format!(
                    "an embedding of {n} dimensions (expected {})",
                    expected.map_or_else(|| format!("1 to {EMBEDDING_DIMENSIONS}"), |d| d.to_string())
                )));
            }
            if item.embedding.iter().any(|x| !x.is_finite()) || item.embedding.iter().all(|x| *x == 0.0) {
                return Err(EmbeddingError::BadResponse("an embedding with no direction".into()));
            }
            vectors.push(pad(item.embedding));
        }
        let tokens = response
            .usage
            .and_then(|u| u.total_tokens.or(u.prompt_tokens))
            .unwrap_or_else(|| texts.iter().map(|t| crate::text::estimate_tokens(t)).sum());
        Ok((vectors, tokens))
    }
}

/// The HTTP client of a provider: `timeout` per request (and for
/// connecting, at most 10 s), our user agent.
pub(super) fn provider_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    crate::runtime::init_tls();
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("screenplay/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// Sends the request `build` makes until it succeeds: retried (with
/// backoff) on 429, 5xx, timeouts and connection errors, at most
/// `max_retries` times; another 4xx is `Refused` at once.
pub(super) async fn send_with_retries(
    build: impl Fn() -> reqwest::RequestBuilder,
    max_retries: u32,
    timeout: Duration,
    what: &str,
) -> Result<reqwest::Response, EmbeddingError> {
    let attempts = max_retries + 1;
    let mut last_error = String::new();
    for attempt in 0..attempts {
        let retry_after = match build().send().await {
            Ok(resp) if resp.status().is_success() => return Ok(resp),
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let text = resp.text().await.unwrap_or_default();
                let message: String = text.chars().take(300).collect();
                if status.as_u16() != 429 && !status.is_server_error() {
                    return Err(EmbeddingError::Refused {
                        status: status.as_u16(),
                        message,
                    });
                }
                last_error = format!("HTTP {status}: {message}");
                retry_after
            }
            Err(e) => {
                last_error = if e.is_timeout() {
                    format!("timed out after {timeout:?}")
                } else {
                    format!("request failed: {e}")
                };
                None
            }
        };
        if attempt + 1 < attempts {
            let backoff = backoff(attempt, retry_after);
            tracing::warn!(attempt = attempt + 1, ?backoff, error = %last_error, "{what} request failed; retrying");
            tokio::time::sleep(backoff).await;
        }
    }
    Err(EmbeddingError::Unavailable {
        attempts,
        message: last_error,
    })
}

/// Delay before retry `attempt` (0-based): the server's `Retry-After` when
/// given (capped), else exponential with jitter.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after {
        return after.min(MAX_BACKOFF);
    }
    let exp = BASE_BACKOFF.saturating_mul(1u32 << attempt.min(10)).min(MAX_BACKOFF);
    let jitter = rand::random_range(0.5..1.0);
    exp.mul_f64(jitter)
}

#[async_trait::async_trait]
impl Embedder for HttpEmbedder {
    fn model(&self) -> &str {
        &self.config.model
    }

    fn dimensions(&self) -> usize {
        self.config.dimensions.unwrap_or(EMBEDDING_DIMENSIONS)
    }

    async fn embed(&self, texts: &[String]) -> Result<Embeddings, EmbeddingError> {
        let mut vectors = Vec::with_capacity(texts.len());
        let mut tokens = 0;
        for batch in texts.chunks(self.config.batch_size.max(1)) {
            let (v, t) = self.embed_batch(batch).await?;
            vectors.extend(v);
            tokens += t;
        }
        Ok(Embeddings { vectors, tokens })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        assert!(backoff(0, None) <= BASE_BACKOFF);
        assert!(backoff(3, None) >= BASE_BACKOFF * 4);
        assert!(backoff(30, None) <= MAX_BACKOFF);
        assert_eq!(backoff(0, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(backoff(0, Some(Duration::from_secs(600))), MAX_BACKOFF);
    }
}
