//! Counting tokens the way the embedding model will: a tiktoken encoding
//! (`cl100k_base`, `o200k_base`: OpenAI's models) or a HuggingFace
//! `tokenizer.json` (bge, e5, gte, jina…). Chunks are sized with it, so a
//! chunk never exceeds what the model accepts.

use std::{fmt, path::Path, sync::Arc};

use anyhow::Context;

/// A tokenizer; cheap to clone.
#[derive(Clone)]
pub struct Tokenizer {
    name: Arc<str>,
    inner: Arc<Inner>,
}

enum Inner {
    Tiktoken(&'static tiktoken_rs::CoreBPE),
    HuggingFace {
        tokenizer: Box<tokenizers::Tokenizer>,
        /// Tokens the model adds around any input (`[CLS]`, `[SEP]`).
        special: usize,
    },
}

impl fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Tokenizer").field(&self.name).finish()
    }
}

impl Tokenizer {
    /// A tiktoken encoding by name: `cl100k_base`, `o200k_base`,
    /// `p50k_base`, `r50k_base`.
    pub fn tiktoken(encoding: &str) -> anyhow::Result<Self> {
        use tiktoken_rs::tokenizer::Tokenizer as T;
        let which = match encoding {
            "cl100k_base" => T::Cl100kBase,
            "o200k_base" => T::O200kBase,
            "p50k_base" => T::P50kBase,
            "r50k_base" => T::R50kBase,
            other => {
                anyhow::bail!("`{other}` is not a tiktoken encoding (cl100k_base, o200k_base, p50k_base, r50k_base)")
            }
        };
        Ok(Self {
            name: Arc::from(encoding),
            inner: Arc::new(Inner::Tiktoken(tiktoken_rs::bpe_for_tokenizer(which)?)),
        })
    }

    /// The tiktoken encoding of an OpenAI model (`text-embedding-3-small`
    /// → `cl100k_base`), if it is one.
    pub fn for_openai_model(model: &str) -> Option<Self> {
        use tiktoken_rs::tokenizer::{Tokenizer as T, get_tokenizer};
        let name = match get_tokenizer(model)? {
            T::Cl100kBase => "cl100k_base",
            T::O200kBase | T::O200kHarmony => "o200k_base",
            T::P50kBase | T::P50kEdit => "p50k_base",
            T::R50kBase | T::Gpt2 => "r50k_base",
        };
        Self::tiktoken(name).ok()
    }

    /// A HuggingFace `tokenizer.json`; its truncation and padding are
    /// switched off (chunking needs true lengths). Also returns the
    /// truncation length the file declares: the model's limit.
    pub fn from_file(path: &Path) -> anyhow::Result<(Self, Option<usize>)> {
        let mut tokenizer = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("cannot load the tokenizer {}", path.display()))?;
        let limit = tokenizer.get_truncation().map(|t| t.max_length);
        tokenizer.with_truncation(None).map_err(|e| anyhow::anyhow!("{e}"))?;
        tokenizer.with_padding(None);
        let special = tokenizer
            .encode("", true)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("the tokenizer {} cannot encode", path.display()))?
            .len();
        let file = path
            .file_name()
            .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok((
            Self {
                name: Arc::from(format!("tokenizer.json:{file}")),
                inner: Arc::new(Inner::HuggingFace {
                    tokenizer: Box::new(tokenizer),
                    special,
                }),
            },
            limit,
        ))
    }

    /// `cl100k_base`, or `tokenizer.json:<file name>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Tokens of `text` as the model sees it, special tokens included.
    pub fn count(&self, text: &str) -> usize {
        match &*self.inner {
            Inner::Tiktoken(bpe) => bpe.encode_ordinary(text).len(),
            // An encoding error (none is known for valid UTF-8) counts as
            // over any limit, so the text is split further, never passed.
            Inner::HuggingFace { tokenizer, .. } => {
                tokenizer.encode_fast(text, true).map_or(usize::MAX / 4, |e| e.len())
            }
        }
    }

    /// Tokens every input costs on top of its text (`[CLS]` + `[SEP]`).
    pub fn special_tokens(&self) -> usize {
        match &*self.inner {
            Inner::Tiktoken(_) => 0,
            Inner::HuggingFace { special, .. } => *special,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiktoken_counts_and_names() {
        let t = Tokenizer::tiktoken("cl100k_base").unwrap();
        assert_eq!(t.count("hello world"), 2);
        assert!(t.count("侦探在雨夜里等待。") > 5);
        assert_eq!(
            Tokenizer::for_openai_model("text-embedding-3-small").unwrap().name(),
            "cl100k_base"
        );
        assert!(Tokenizer::for_openai_model("bge-small-zh").is_none());
        assert!(Tokenizer::tiktoken("bert").is_err());
    }
}
