//! Preparing documents for ingestion: extracting text from files (PDF,
//! DOCX, HTML, Markdown, text in any encoding), splitting it into chunks
//! counted in characters or the model's tokens, guessing a language,
//! hashing content, and (for `screenplay ingest`) finding files.

pub mod chunk;
pub mod decode;
pub mod extract;
pub mod files;
pub mod policy;
pub mod tokens;

pub use chunk::{Chunking, Measure, split};
pub use extract::{Extracted, Format, Section};
pub use policy::{ChunkPolicy, ChunkRequest};
pub use tokens::Tokenizer;

use sha2::{Digest, Sha256};

use crate::text::is_cjk;

/// One chunk of a document and the heading path it sits under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub text: String,
    pub section: Option<String>,
}

/// The chunks of every section, in order; sections are never merged, so
/// a chunk holds text of one heading only.
pub fn chunk_sections(sections: &[Section], chunking: &Chunking) -> Vec<Chunk> {
    sections
        .iter()
        .flat_map(|section| {
            split(&section.text, chunking).into_iter().map(|text| Chunk {
                text,
                section: section.heading.clone(),
            })
        })
        .collect()
}

/// SHA-256 (hex) of a chunk: what makes re-ingesting the same text a no-op.
pub fn content_hash(content: &str) -> String {
    hex::encode(Sha256::digest(content.as_bytes()))
}

/// A language code for text whose language was not given: `zh`, `ja` or
/// `ko` when a fifth or more of its letters are CJK, otherwise `en`.
pub fn detect_language(text: &str) -> &'static str {
    let (mut letters, mut cjk, mut kana, mut hangul) = (0usize, 0usize, 0usize, 0usize);
    for c in text.chars().take(20_000) {
        if is_cjk(c) {
            cjk += 1;
            letters += 1;
            match c as u32 {
                0x3040..=0x30ff => kana += 1,
                0xac00..=0xd7af => hangul += 1,
                _ => {}
            }
        } else if c.is_alphabetic() {
            letters += 1;
        }
    }
    if letters == 0 || cjk * 5 < letters {
        "en"
    } else if kana > 0 {
        "ja"
    } else if hangul * 2 > cjk {
        "ko"
    } else {
        "zh"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        assert_eq!(detect_language("The detective waits."), "en");
        assert_eq!(detect_language("侦探在雨中等待。INT. 警察局"), "zh");
        assert_eq!(detect_language("探偵はひとりで待つ"), "ja");
        assert_eq!(detect_language("탐정이 기다린다"), "ko");
        assert_eq!(detect_language("1234"), "en");
    }

    #[test]
    fn hashes() {
        assert_eq!(
            content_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
