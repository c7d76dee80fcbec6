//! Preparing documents for ingestion: splitting text into chunks, guessing
//! a language, hashing content, and (for `screenplay ingest`) finding and
//! reading files.

pub mod chunk;
pub mod files;

pub use chunk::{Chunking, split};

use sha2::{Digest, Sha256};

use crate::text::is_cjk;

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
