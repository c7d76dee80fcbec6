//! Text helpers shared by chunking, embedding and search: which characters
//! are written without spaces between words, and a token estimate.

/// Han, kana and hangul: the scripts written without spaces between words
/// (the same ranges as the database's `screenplay.cjk_ngrams`).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xf900..=0xfaff | 0xac00..=0xd7af)
}

/// A token count estimate for quota checks before the provider answers:
/// one token per CJK character, one per four other characters.
pub fn estimate_tokens(text: &str) -> u64 {
    let mut cjk = 0u64;
    let mut other = 0u64;
    for c in text.chars() {
        if is_cjk(c) {
            cjk += 1;
        } else if !c.is_whitespace() {
            other += 1;
        }
    }
    cjk + other.div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_estimates() {
        assert_eq!(estimate_tokens("剧本生成"), 4);
        assert_eq!(estimate_tokens("abcd efgh"), 2);
        assert!(is_cjk('剧') && is_cjk('が') && !is_cjk('a'));
    }
}
