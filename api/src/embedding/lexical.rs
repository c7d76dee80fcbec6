//! The built-in offline embedder. It is *lexical*, not semantic: texts that
//! share words (English words lightly stemmed, plus their character
//! trigrams) or CJK characters and character pairs get similar vectors;
//! synonyms and paraphrases do not. Features are hashed (FNV-1a, signed)
//! into 1536 dimensions with sublinear term frequency, then L2-normalised.
//! Deterministic: the same text always gives the same vector, on every
//! machine and in every version of this model name.

use std::collections::HashMap;

use super::provider::{Embedder, EmbeddingError, Embeddings};
use crate::config::EMBEDDING_DIMENSIONS;
use crate::text::{estimate_tokens, is_cjk};

/// The model name recorded on rows this embedder embedded. Change it when
/// the features change, so old rows are never compared with new vectors.
pub const LEXICAL_MODEL: &str = "screenplay-lexical-v1";

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it", "its", "of", "on", "or", "that",
    "the", "this", "to", "was", "were", "with",
];
const CJK_STOP_CHARS: &[char] = &[
    '的', '了', '是', '在', '和', '也', '就', '都', '而', '及', '与', '着', '之',
];

/// Hashed character n-grams, CJK-aware.
#[derive(Debug, Clone, Default)]
pub struct LexicalEmbedder;

impl LexicalEmbedder {
    pub fn new() -> Self {
        Self
    }

    /// The vector of one text.
    pub fn embed_one(text: &str) -> Vec<f32> {
        let mut features: HashMap<u64, (f32, u32)> = HashMap::new();
        let mut add = |kind: u8, feature: &str, weight: f32| {
            let h = fnv1a(kind, feature);
            let entry = features.entry(h).or_insert((weight, 0));
            entry.1 += 1;
        };
        let lower = text.to_lowercase();
        let mut word = String::new();
        let mut cjk: Vec<char> = Vec::new();
        let flush_word = |word: &mut String, add: &mut dyn FnMut(u8, &str, f32)| {
            if !word.is_empty() && !STOP_WORDS.contains(&word.as_str()) {
                let stem = stem(word);
                add(b'w', stem, 1.0);
                let marked: Vec<char> = format!("^{stem}$").chars().collect();
                for gram in marked.windows(3) {
                    let gram: String = gram.iter().collect();
                    add(b't', &gram, 0.25);
                }
            }
            word.clear();
        };
        let flush_cjk = |run: &mut Vec<char>, add: &mut dyn FnMut(u8, &str, f32)| {
            for (i, c) in run.iter().enumerate() {
                if !CJK_STOP_CHARS.contains(c) {
                    add(b'u', &c.to_string(), 0.4);
                }
                if let Some(next) = run.get(i + 1) {
                    add(b'b', &format!("{c}{next}"), 1.0);
                }
            }
            run.clear();
        };
        for c in lower.chars() {
            if is_cjk(c) {
                flush_word(&mut word, &mut add);
                cjk.push(c);
            } else if c.is_alphanumeric() {
                flush_cjk(&mut cjk, &mut add);
                word.push(c);
            } else {
                flush_word(&mut word, &mut add);
                flush_cjk(&mut cjk, &mut add);
            }
        }
        flush_word(&mut word, &mut add);
        flush_cjk(&mut cjk, &mut add);
        if features.is_empty() {
            // Punctuation only: a fixed direction rather than a zero vector.
            features.insert(fnv1a(b'e', ""), (1.0, 1));
        }

        let mut v = vec![0f32; EMBEDDING_DIMENSIONS];
        for (h, (weight, count)) in features {
            let index = (h % EMBEDDING_DIMENSIONS as u64) as usize;
            let sign = if (h >> 40) & 1 == 1 { 1.0 } else { -1.0 };
            v[index] += sign * weight * (1.0 + (count as f32).ln());
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        } else {
            v[0] = 1.0;
        }
        v
    }
}

/// A light English stemmer: enough for `running`/`runs`/`run` to meet.
fn stem(word: &str) -> &str {
    let n = word.len();
    if !word.is_ascii() || n <= 3 {
        return word;
    }
    for suffix in ["ingly", "edly", "ings", "ing", "ed", "ly", "s"] {
        if let Some(stem) = word.strip_suffix(suffix)
            && stem.len() >= 3
            && !(suffix == "s" && (stem.ends_with('s') || stem.ends_with('u') || stem.ends_with('i')))
        {
            // runn(ing) -> run: drop a doubled final consonant.
            let b = stem.as_bytes();
            if b.len() >= 4 && b[b.len() - 1] == b[b.len() - 2] && !b"aeiouls".contains(&b[b.len() - 1]) {
                return &stem[..stem.len() - 1];
            }
            return stem;
        }
    }
    word
}

fn fnv1a(kind: u8, feature: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in std::iter::once(kind).chain(feature.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[async_trait::async_trait]
impl Embedder for LexicalEmbedder {
    fn model(&self) -> &str {
        LEXICAL_MODEL
    }

    fn is_local(&self) -> bool {
        true
    }

    fn dimensions(&self) -> usize {
        EMBEDDING_DIMENSIONS
    }

    async fn embed(&self, texts: &[String]) -> Result<Embeddings, EmbeddingError> {
        Ok(Embeddings {
            vectors: texts.iter().map(|t| Self::embed_one(t)).collect(),
            tokens: texts.iter().map(|t| estimate_tokens(t)).sum(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn deterministic_normalised_and_lexical() {
        let a = LexicalEmbedder::embed_one("The detective runs through the rain");
        assert_eq!(a, LexicalEmbedder::embed_one("The detective runs through the rain"));
        assert_eq!(a.len(), 1536);
        assert!((cos(&a, &a) - 1.0).abs() < 1e-5);
        let stemmed = LexicalEmbedder::embed_one("a detective running in rain");
        let other = LexicalEmbedder::embed_one("spaceship engines and orbital mechanics");
        assert!(cos(&a, &stemmed) > 0.5, "{}", cos(&a, &stemmed));
        assert!(cos(&a, &other) < 0.2, "{}", cos(&a, &other));
    }

    #[test]
    fn cjk_text_is_split_into_characters_and_pairs() {
        let a = LexicalEmbedder::embed_one("侦探在雨夜追踪嫌疑人");
        let b = LexicalEmbedder::embed_one("雨夜里，侦探追踪一名嫌疑人。");
        let c = LexicalEmbedder::embed_one("宇宙飞船的引擎轨道");
        assert!(cos(&a, &b) > 0.5, "{}", cos(&a, &b));
        assert!(cos(&a, &c) < 0.2, "{}", cos(&a, &c));
        let empty = LexicalEmbedder::embed_one("!!!");
        assert!((cos(&empty, &empty) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn stems() {
        assert_eq!(stem("running"), "run");
        assert_eq!(stem("runs"), "run");
        assert_eq!(stem("detectives"), "detective");
        assert_eq!(stem("class"), "class");
        assert_eq!(stem("detective"), "detective");
        assert_eq!(stem("rain"), "rain");
    }
}
