//! The provider interface: texts in, vectors and their cost out.

use std::sync::Arc;

use crate::config::EMBEDDING_DIMENSIONS;

/// The vectors of a batch of texts, in input order, and what they cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    /// One 1536-dim vector per input text.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens the provider counted (an estimate for the lexical embedder).
    pub tokens: u64,
}

/// Why embedding failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    /// The provider could not be reached or kept failing after retries.
    #[error("provider unavailable after {attempts} attempt(s): {message}")]
    Unavailable { attempts: u32, message: String },
    /// The provider refused the request (4xx other than 429).
    #[error("provider refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// The provider answered something that is not a usable embedding.
    #[error("provider answered badly: {0}")]
    BadResponse(String),
}

/// Turns texts into vectors.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// The model name recorded on every row this embedder embeds.
    fn model(&self) -> &str;

    /// Dimensions before padding (what a client-supplied vector of this
    /// model may have, besides 1536).
    fn dimensions(&self) -> usize;

    /// Whether embedding costs no wait (no network): then ingestion embeds
    /// at once instead of leaving the chunks to the indexing job.
    fn is_local(&self) -> bool {
        false
    }

    /// Embeds `texts` (any number; batched as the provider needs).
    async fn embed(&self, texts: &[String]) -> Result<Embeddings, EmbeddingError>;
}

/// A shared embedder.
pub type SharedEmbedder = Arc<dyn Embedder>;

/// Pads a vector to 1536 dimensions with zeros.
pub fn pad(mut v: Vec<f32>) -> Vec<f32> {
    if v.len() < EMBEDDING_DIMENSIONS {
        v.resize(EMBEDDING_DIMENSIONS, 0.0);
    }
    v
}

/// pgvector's text form of a vector (`[0.1,-2,…]`): batches of vectors
/// travel as text in one array or JSON value, so that their statement has
/// one shape whatever the batch size. Rust prints each `f32` in the
/// shortest form that reads back to the same value.
pub fn vector_literal(v: &[f32]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(v.len() * 12 + 2);
    out.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Written in place: `to_string` allocated a String per float.
        let _ = write!(out, "{x}");
    }
    out.push(']');
    out
}

/// Why a vector cannot be stored or searched with.
pub fn check_vector(v: &[f32], allowed_dims: usize) -> Result<(), String> {
    if v.len() != EMBEDDING_DIMENSIONS && v.len() != allowed_dims {
        return Err(if allowed_dims == EMBEDDING_DIMENSIONS {
            format!("has {} dimensions; expected {EMBEDDING_DIMENSIONS}", v.len())
        } else {
            format!(
                "has {} dimensions; expected {EMBEDDING_DIMENSIONS} or {allowed_dims}",
                v.len()
            )
        });
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(format!("value {i} is not a finite number"));
    }
    if v.iter().all(|x| *x == 0.0) {
        return Err("is all zeros (cosine similarity is undefined)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_checked() {
        let mut v = vec![0.1f32; 1536];
        assert!(check_vector(&v, 1536).is_ok());
        assert!(check_vector(&v[..10], 1536).is_err());
        assert!(check_vector(&v[..768], 768).is_ok());
        v[3] = f32::NAN;
        assert!(check_vector(&v, 1536).unwrap_err().contains("value 3"));
        v[3] = f32::INFINITY;
        assert!(check_vector(&v, 1536).is_err());
        assert!(check_vector(&[0.0; 1536], 1536).is_err());
    }

    #[test]
    fn vector_literals_read_back_to_the_same_floats() {
        let v = [0.1f32, -2.0, 1e-38, 3.4028235e38, 1.0 / 3.0, 0.0, -0.0, 7.006492e-45];
        let text = vector_literal(&v);
        assert!(text.starts_with('[') && text.ends_with(']'), "{text}");
        let back: Vec<f32> = text[1..text.len() - 1]
            .split(',')
            .map(|x| x.parse().expect("float"))
            .collect();
        assert_eq!(
            back.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            v.map(f32::to_bits)
        );
    }

    #[test]
    fn short_vectors_are_padded() {
        assert_eq!(pad(vec![1.0; 3]).len(), 1536);
    }
}
