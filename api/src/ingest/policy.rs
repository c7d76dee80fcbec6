//! The server's chunking: what a call asks for (characters or tokens),
//! else tokens of the embedding model's tokenizer, else characters.

use crate::config::{ChunkingConfig, TokenizerSetting};

use super::{chunk::Chunking, tokens::Tokenizer};

/// Tokens accepted by OpenAI's embedding models.
const TIKTOKEN_LIMIT: usize = 8191;
/// The usual limit of BERT-family embedding models (bge, e5, gte).
const TOKENIZER_FILE_LIMIT: usize = 512;

/// What a call asked for; all `None`: the server's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkRequest {
    pub max_chars: Option<usize>,
    pub overlap: Option<usize>,
    pub max_tokens: Option<usize>,
    pub overlap_tokens: Option<usize>,
}

/// Loaded once at start; cheap to share.
#[derive(Debug, Clone)]
pub struct ChunkPolicy {
    tokenizer: Option<Tokenizer>,
    /// Tokens a chunk may hold: the model's limit less its special tokens.
    limit: usize,
    max_tokens: usize,
    overlap_tokens: usize,
}

impl Default for ChunkPolicy {
    /// Characters only (the built-in embedder).
    fn default() -> Self {
        Self {
            tokenizer: None,
            limit: TIKTOKEN_LIMIT,
            max_tokens: 512,
            overlap_tokens: 64,
        }
    }
}

impl ChunkPolicy {
    /// Loads the configured tokenizer for `model`; errors name the variable.
    pub fn load(config: &ChunkingConfig, model: &str) -> anyhow::Result<Self> {
        let (tokenizer, file_limit) = match &config.tokenizer {
            TokenizerSetting::Chars => (None, None),
            TokenizerSetting::Auto => (Tokenizer::for_openai_model(model), None),
            TokenizerSetting::Tiktoken(name) => (
                Some(Tokenizer::tiktoken(name).map_err(|e| anyhow::anyhow!("SCREENPLAY_EMBEDDING_TOKENIZER: {e}"))?),
                None,
            ),
            TokenizerSetting::File(path) => {
                let (t, limit) =
                    Tokenizer::from_file(path).map_err(|e| anyhow::anyhow!("SCREENPLAY_EMBEDDING_TOKENIZER: {e:#}"))?;
                (Some(t), Some(limit.unwrap_or(TOKENIZER_FILE_LIMIT)))
            }
        };
        let model_limit = config.model_max_tokens.or(file_limit).unwrap_or(TIKTOKEN_LIMIT);
        let special = tokenizer.as_ref().map_or(0, Tokenizer::special_tokens);
        let limit = model_limit.saturating_sub(special);
        if tokenizer.is_some() && config.max_tokens > limit {
            anyhow::bail!(
                "SCREENPLAY_CHUNK_TOKENS ({}) is over the model's limit: {model_limit} tokens{} \
                 (SCREENPLAY_EMBEDDING_MAX_TOKENS)",
                config.max_tokens,
                if special > 0 {
                    format!(" less {special} special")
                } else {
                    String::new()
                }
            );
        }
        Ok(Self {
            tokenizer,
            limit,
            max_tokens: config.max_tokens,
            overlap_tokens: config.overlap_tokens,
        })
    }

    /// The tokenizer chunks are counted with by default, if any.
    pub fn tokenizer(&self) -> Option<&Tokenizer> {
        self.tokenizer.as_ref()
    }

    /// The chunking of one call; errors name the field.
    pub fn chunking(&self, request: ChunkRequest) -> Result<Chunking, (&'static str, String)> {
        let chars = request.max_chars.is_some() || request.overlap.is_some();
        let tokens = request.max_tokens.is_some() || request.overlap_tokens.is_some();
        match (chars, tokens, &self.tokenizer) {
            (true, true, _) => Err((
                "maxTokens",
                "size chunks in characters (`maxChars`, `overlap`) or in tokens (`maxTokens`, `overlapTokens`), \
                 not both"
                    .into(),
            )),
            (true, false, _) | (false, false, None) => Chunking::chars(request.max_chars, request.overlap),
            (false, true, None) => Err((
                "maxTokens",
                "the server has no tokenizer for its embedding model (SCREENPLAY_EMBEDDING_TOKENIZER); size chunks \
                 with `maxChars`"
                    .into(),
            )),
            (false, _, Some(tokenizer)) => {
                let max = request.max_tokens.unwrap_or(self.max_tokens.min(self.limit));
                let overlap = request.overlap_tokens.unwrap_or(self.overlap_tokens.min(max / 4));
                Chunking::tokens(tokenizer.clone(), max, overlap, self.limit)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(tokenizer: TokenizerSetting) -> ChunkingConfig {
        ChunkingConfig {
            tokenizer,
            ..ChunkingConfig::default()
        }
    }

    #[test]
    fn openai_models_count_tokens_others_characters() {
        let openai = ChunkPolicy::load(&config(TokenizerSetting::Auto), "text-embedding-3-small").unwrap();
        assert_eq!(
            openai.chunking(ChunkRequest::default()).unwrap().describe(),
            "v2 tokens cl100k_base 512/64"
        );
        let other = ChunkPolicy::load(&config(TokenizerSetting::Auto), "bge-m3").unwrap();
        assert_eq!(
            other.chunking(ChunkRequest::default()).unwrap().describe(),
            "v2 chars 2000/200"
        );
        let asked = ChunkRequest {
            max_chars: Some(500),
            ..ChunkRequest::default()
        };
        assert_eq!(openai.chunking(asked).unwrap().describe(), "v2 chars 500/125");
        let tokens = ChunkRequest {
            max_tokens: Some(100),
            ..ChunkRequest::default()
        };
        assert_eq!(other.chunking(tokens).unwrap_err().0, "maxTokens");
        assert_eq!(
            openai.chunking(tokens).unwrap().describe(),
            "v2 tokens cl100k_base 100/25"
        );
    }

    #[test]
    fn limits_are_checked_at_start() {
        let too_big = ChunkingConfig {
            tokenizer: TokenizerSetting::Tiktoken("cl100k_base".into()),
            model_max_tokens: Some(256),
            ..ChunkingConfig::default()
        };
        let err = ChunkPolicy::load(&too_big, "m").unwrap_err().to_string();
        assert!(err.contains("SCREENPLAY_CHUNK_TOKENS"), "{err}");
        let missing = config(TokenizerSetting::File("/nonexistent/tokenizer.json".into()));
        assert!(
            ChunkPolicy::load(&missing, "m")
                .unwrap_err()
                .to_string()
                .contains("SCREENPLAY_EMBEDDING_TOKENIZER")
        );
    }
}
