//! Embedding providers: text in, 1536-dim vectors and token usage out.
//!
//! Two implementations of [`Embedder`]: [`HttpEmbedder`] speaks the
//! OpenAI-compatible `/v1/embeddings` protocol (OpenAI, vLLM, Ollama, TEI and
//! compatible gateways) with batching, timeouts and retries; [`LexicalEmbedder`]
//! is the built-in offline default. Vectors shorter than 1536 dimensions are
//! zero-padded, which leaves cosine similarity unchanged. [`Reranker`]
//! reorders search candidates through a `/rerank` endpoint.

mod http;
mod lexical;
mod provider;
mod rerank;

use std::sync::Arc;

pub use http::HttpEmbedder;
pub use lexical::{LEXICAL_MODEL, LexicalEmbedder};
pub use provider::{Embedder, EmbeddingError, Embeddings, SharedEmbedder, check_vector, pad, vector_literal};
pub use rerank::{Reranked, Reranker};

use crate::config::EmbeddingConfig;

/// The embedder the configuration asks for.
pub fn from_config(config: &EmbeddingConfig) -> anyhow::Result<SharedEmbedder> {
    Ok(match config {
        EmbeddingConfig::Lexical => Arc::new(LexicalEmbedder::new()),
        EmbeddingConfig::Http(http) => Arc::new(HttpEmbedder::new(http.clone())?),
    })
}
