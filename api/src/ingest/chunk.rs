//! Splitting long text into chunks of at most `max_chars` characters, on
//! paragraph boundaries where possible, else on sentence boundaries (Chinese
//! and Japanese sentence punctuation included), else on whitespace, else
//! anywhere. Each chunk after the first starts with up to `overlap`
//! characters from the end of the previous one, cut at a sentence or word
//! boundary, so a passage split in two is still found whole.

/// How to split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    pub max_chars: usize,
    pub overlap: usize,
}

impl Chunking {
    pub const DEFAULT_MAX_CHARS: usize = 2000;
    pub const DEFAULT_OVERLAP: usize = 200;
    pub const MIN_MAX_CHARS: usize = 100;
    pub const MAX_MAX_CHARS: usize = 20_000;

    /// Checks the limits; errors name the field.
    pub fn new(max_chars: Option<usize>, overlap: Option<usize>) -> Result<Self, (&'static str, String)> {
        let max_chars = max_chars.unwrap_or(Self::DEFAULT_MAX_CHARS);
        if !(Self::MIN_MAX_CHARS..=Self::MAX_MAX_CHARS).contains(&max_chars) {
            return Err((
                "maxChars",
                format!(
                    "`maxChars` must be between {} and {}",
                    Self::MIN_MAX_CHARS,
                    Self::MAX_MAX_CHARS
                ),
            ));
        }
        let overlap = overlap.unwrap_or(Self::DEFAULT_OVERLAP.min(max_chars / 4));
        if overlap * 2 > max_chars {
            return Err(("overlap", "`overlap` must be at most half of `maxChars`".into()));
        }
        Ok(Self { max_chars, overlap })
    }
}

impl Default for Chunking {
    fn default() -> Self {
        Self {
            max_chars: Self::DEFAULT_MAX_CHARS,
            overlap: Self::DEFAULT_OVERLAP,
        }
    }
}

/// Splits `text` (line endings normalised, outer whitespace trimmed).
/// Empty text gives no chunks.
pub fn split(text: &str, chunking: Chunking) -> Vec<String> {
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    let max = chunking.max_chars;
    if text.chars().count() <= max {
        return vec![text.to_owned()];
    }
    // Units no longer than `max`: whole paragraphs when they fit, else their
    // sentences, else pieces of sentences. Each keeps its trailing whitespace.
    let mut units: Vec<&str> = Vec::new();
    for paragraph in split_after(text, paragraph_ends(text)) {
        if len(paragraph) <= max {
            units.push(paragraph);
            continue;
        }
        for sentence in split_after(paragraph, sentence_ends(paragraph)) {
            if len(sentence) <= max {
                units.push(sentence);
            } else {
                units.extend(hard_split(sentence, max));
            }
        }
    }

    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for unit in units {
        let unit_len = len(unit);
        if current_len + unit_len > max && !current.trim().is_empty() {
            let done = current.trim().to_owned();
            let mut carry = tail(&done, chunking.overlap).to_owned();
            if !carry.is_empty() {
                carry.push(if done.ends_with('\n') { '\n' } else { ' ' });
            }
            // The unit itself always fits; the overlap gives way to it.
            if len(&carry) + unit_len > max {
                carry.clear();
            }
            chunks.push(done);
            current_len = len(&carry);
            current = carry;
        }
        current.push_str(unit);
        current_len += unit_len;
    }
    let last = current.trim();
    if !last.is_empty() {
        chunks.push(last.to_owned());
    }
    chunks
}

fn len(s: &str) -> usize {
    s.chars().count()
}

/// Byte offsets just after each blank-line run.
fn paragraph_ends(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut ends = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            let start = i;
            let mut j = i;
            let mut newlines = 0;
            while j < bytes.len() && (bytes[j] == b'\n' || bytes[j] == b' ' || bytes[j] == b'\t') {
                if bytes[j] == b'\n' {
                    newlines += 1;
                }
                j += 1;
            }
            if newlines >= 2 {
                ends.push(j);
            }
            i = j.max(start + 1);
        } else {
            i += 1;
        }
    }
    ends
}

/// Byte offsets just after each sentence end (and its trailing spaces).
fn sentence_ends(text: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (_, c) = chars[k];
        let cjk_end = matches!(c, '。' | '！' | '？' | '；' | '…');
        let latin_end = matches!(c, '.' | '!' | '?' | ';');
        if cjk_end || latin_end || c == '\n' {
            let mut j = k + 1;
            // Closing quotes and brackets belong to the sentence.
            while j < chars.len() && matches!(chars[j].1, '"' | '\'' | '”' | '’' | '」' | '』' | ')' | '）') {
                j += 1;
            }
            let next_is_space = j >= chars.len() || chars[j].1.is_whitespace();
            if cjk_end || c == '\n' || next_is_space {
                while j < chars.len() && chars[j].1.is_whitespace() {
                    j += 1;
                }
                let offset = if j < chars.len() { chars[j].0 } else { text.len() };
                ends.push(offset);
                k = j;
                continue;
            }
        }
        k += 1;
    }
    ends
}

fn split_after(text: &str, ends: Vec<usize>) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for end in ends {
        if end > start && end <= text.len() {
            parts.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

/// Pieces of at most `max` characters, cut at whitespace when there is some
/// in the last fifth of a piece.
fn hard_split(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while len(rest) > max {
        let cut = rest.char_indices().nth(max).map_or(rest.len(), |(i, _)| i);
        let window_start = rest.char_indices().nth(max * 4 / 5).map_or(0, |(i, _)| i);
        let at = rest[window_start..cut]
            .rfind(char::is_whitespace)
            .map(|i| window_start + i + 1)
            .filter(|&i| i > 0 && i <= cut)
            .unwrap_or(cut);
        pieces.push(&rest[..at]);
        rest = &rest[at..];
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

/// The end of `text`, at most `n` characters, starting at a sentence
/// boundary when one is in reach, else at a word boundary.
fn tail(text: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    let total = len(text);
    if total <= n {
        return text;
    }
    let start = text.char_indices().nth(total - n).map_or(0, |(i, _)| i);
    let window = &text[start..];
    let before = text[..start].trim_end();
    let at_sentence_start =
        before.ends_with(['.', '!', '?', ';', '。', '！', '？', '；', '…', '\n']) || text[..start].ends_with('\n');
    if at_sentence_start {
        return window.trim_start();
    }
    if let Some(&first) = sentence_ends(window).iter().find(|&&e| e < window.len()) {
        return &window[first..];
    }
    if text[..start].ends_with(char::is_whitespace) {
        return window;
    }
    match window.find(char::is_whitespace) {
        Some(i) if i + 1 < window.len() => window[i..].trim_start(),
        _ => window,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunking(max: usize, overlap: usize) -> Chunking {
        Chunking {
            max_chars: max,
            overlap,
        }
    }

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(split("  hello world \n", Chunking::default()), vec!["hello world"]);
        assert!(split("  \n ", Chunking::default()).is_empty());
    }

    #[test]
    fn paragraphs_are_kept_whole_when_they_fit() {
        let p1 = "First paragraph. It has two sentences.";
        let p2 = "Second paragraph is here.";
        let p3 = "Third one closes the text.";
        let text = format!("{p1}\n\n{p2}\n\n{p3}");
        let chunks = split(&text, chunking(70, 0));
        assert_eq!(chunks, [format!("{p1}\n\n{p2}").as_str(), p3].to_vec());
        for c in &chunks {
            assert!(c.chars().count() <= 70);
        }
    }

    #[test]
    fn chinese_sentences_split_on_their_punctuation() {
        let text = "夜色笼罩城市。侦探走进雨中！他在找什么？没有人知道；只有风声。".repeat(3);
        let chunks = split(&text, chunking(30, 0));
        assert!(chunks.len() > 2);
        for c in &chunks {
            assert!(c.chars().count() <= 30, "{c}");
            assert!(c.ends_with(['。', '！', '？', '；']), "{c}");
        }
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn overlap_repeats_the_previous_sentence() {
        let text = "One sentence here. Two sentence here. Three sentence here. Four sentence here.";
        let chunks = split(text, chunking(40, 20));
        assert!(chunks.len() >= 3, "{chunks:?}");
        for pair in chunks.windows(2) {
            let prev_last = pair[0].rsplit(". ").next().unwrap_or_default();
            assert!(pair[1].starts_with(prev_last.trim_end_matches('.')), "{pair:?}");
        }
        for c in &chunks {
            assert!(c.chars().count() <= 40, "{c}");
        }
    }

    #[test]
    fn text_without_boundaries_is_cut_hard() {
        let text = "x".repeat(250);
        let chunks = split(&text, chunking(100, 0));
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn limits_are_checked() {
        assert!(Chunking::new(Some(50), None).is_err());
        assert_eq!(Chunking::new(Some(1000), Some(600)).unwrap_err().0, "overlap");
        assert_eq!(Chunking::new(None, None).unwrap(), Chunking::default());
    }
}
