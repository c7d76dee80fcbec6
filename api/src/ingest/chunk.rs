//! Splitting long text into chunks of at most `max_chars` characters, on
//! paragraph boundaries where possible, else on sentence boundaries (Chinese
//! and Japanese sentence punctuation included), else on whitespace, else
//! anywhere. Each chunk after the first starts with up to `overlap`
//! characters from the end of the previous one, cut at a sentence or word
//! boundary, so a passage split in two is still found whole.

use super::tokens::Tokenizer;

/// The version of the splitting rules, recorded with every chunk: 2 cuts at
/// headings (sections) and can count tokens.
pub const CHUNKER_VERSION: u32 = 2;

/// What chunk sizes are counted in.
#[derive(Debug, Clone)]
pub enum Measure {
    Chars,
    /// Tokens of the embedding model's text, its special tokens not counted
    /// (the configuration leaves room for them under the model's limit).
    Tokens(Tokenizer),
}

impl Measure {
    pub fn len(&self, text: &str) -> usize {
        match self {
            Measure::Chars => text.chars().count(),
            Measure::Tokens(t) => t.count(text).saturating_sub(t.special_tokens()),
        }
    }
}

/// How to split.
#[derive(Debug, Clone)]
pub struct Chunking {
    pub max: usize,
    pub overlap: usize,
    pub measure: Measure,
}

impl Chunking {
    pub const DEFAULT_MAX_CHARS: usize = 2000;
    pub const DEFAULT_OVERLAP: usize = 200;
    pub const MIN_MAX_CHARS: usize = 100;
    pub const MAX_MAX_CHARS: usize = 20_000;
    pub const MIN_MAX_TOKENS: usize = 16;

    /// Sizes in characters; checks the limits, errors name the field.
    pub fn chars(max_chars: Option<usize>, overlap: Option<usize>) -> Result<Self, (&'static str, String)> {
        let max = max_chars.unwrap_or(Self::DEFAULT_MAX_CHARS);
        if !(Self::MIN_MAX_CHARS..=Self::MAX_MAX_CHARS).contains(&max) {
            return Err((
                "maxChars",
                format!(
                    "`maxChars` must be between {} and {}",
                    Self::MIN_MAX_CHARS,
                    Self::MAX_MAX_CHARS
                ),
            ));
        }
        let overlap = overlap.unwrap_or(Self::DEFAULT_OVERLAP.min(max / 4));
        if overlap * 2 > max {
            return Err(("overlap", "`overlap` must be at most half of `maxChars`".into()));
        }
        Ok(Self {
            max,
            overlap,
            measure: Measure::Chars,
        })
    }

    /// Sizes in tokens of `tokenizer`, at most `limit` per chunk (the
    /// model's input limit less its special tokens).
    pub fn tokens(
        tokenizer: Tokenizer,
        max_tokens: usize,
        overlap: usize,
        limit: usize,
    ) -> Result<Self, (&'static str, String)> {
        if !(Self::MIN_MAX_TOKENS..=limit.max(Self::MIN_MAX_TOKENS)).contains(&max_tokens) {
            return Err((
                "maxTokens",
                format!(
                    "`maxTokens` must be between {} and {limit} (the embedding model's limit)",
                    Self::MIN_MAX_TOKENS
                ),
            ));
        }
        if overlap * 2 > max_tokens {
            return Err((
                "overlapTokens",
                "`overlapTokens` must be at most half of `maxTokens`".into(),
            ));
        }
        Ok(Self {
            max: max_tokens,
            overlap,
            measure: Measure::Tokens(tokenizer),
        })
    }

    /// The rules as recorded with each chunk: `v2 chars 2000/200`,
    /// `v2 tokens cl100k_base 512/64`. Re-ingesting a source under other
    /// rules replaces its chunks.
    pub fn describe(&self) -> String {
        let unit = match &self.measure {
            Measure::Chars => "chars".to_owned(),
            Measure::Tokens(t) => format!("tokens {}", t.name()),
        };
        format!("v{CHUNKER_VERSION} {unit} {}/{}", self.max, self.overlap)
    }

    /// `characters` or `tokens`, for messages.
    pub fn unit(&self) -> &'static str {
        match self.measure {
            Measure::Chars => "characters",
            Measure::Tokens(_) => "tokens",
        }
    }
}

impl Default for Chunking {
    fn default() -> Self {
        Self {
            max: Self::DEFAULT_MAX_CHARS,
            overlap: Self::DEFAULT_OVERLAP,
            measure: Measure::Chars,
        }
    }
}

/// Splits `text` (line endings normalised, outer whitespace trimmed).
/// Empty text gives no chunks; no chunk is longer than `chunking.max`.
pub fn split(text: &str, chunking: &Chunking) -> Vec<String> {
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    let (max, m) = (chunking.max, &chunking.measure);
    if m.len(text) <= max {
        return vec![text.to_owned()];
    }
    let units = units(text, max, m);
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for (unit, unit_len) in units {
        if current_len + unit_len > max && !current.trim().is_empty() {
            let done = current.trim().to_owned();
            let mut carry = tail(&done, chunking.overlap, m).to_owned();
            if !carry.is_empty() {
                carry.push(if done.ends_with('\n') { '\n' } else { ' ' });
            }
            // The unit itself always fits; the overlap gives way to it.
            let carry_len = m.len(&carry);
            if carry_len + unit_len > max {
                carry.clear();
            }
            chunks.push(done);
            current_len = if carry.is_empty() { 0 } else { carry_len };
            current = carry;
        }
        current.push_str(unit);
        current_len += unit_len;
    }
    let last = current.trim();
    if !last.is_empty() {
        chunks.push(last.to_owned());
    }
    // Token counts of joined pieces can exceed the sum of their parts (a
    // merge across the seam); such a chunk is cut again.
    chunks
        .into_iter()
        .flat_map(|c| {
            if m.len(&c) <= max {
                vec![c]
            } else {
                hard_split(&c, max, m).into_iter().map(str::to_owned).collect()
            }
        })
        .collect()
}

/// Units no longer than `max`, with their lengths: whole paragraphs when
/// they fit, else their sentences, else pieces of sentences. Each keeps its
/// trailing whitespace.
fn units<'t>(text: &'t str, max: usize, m: &Measure) -> Vec<(&'t str, usize)> {
    let mut units = Vec::new();
    for paragraph in split_after(text, paragraph_ends(text)) {
        let n = m.len(paragraph);
        if n <= max {
            units.push((paragraph, n));
            continue;
        }
        for sentence in split_after(paragraph, sentence_ends(paragraph)) {
            let n = m.len(sentence);
            if n <= max {
                units.push((sentence, n));
            } else {
                units.extend(hard_split(sentence, max, m).into_iter().map(|p| (p, m.len(p))));
            }
        }
    }
    units
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

/// Pieces of at most `max`, cut at whitespace when there is some in the
/// last fifth of a piece.
fn hard_split<'t>(text: &'t str, max: usize, m: &Measure) -> Vec<&'t str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while m.len(rest) > max {
        let fits = longest_prefix(rest, max, m).max(1);
        let cut = byte_at(rest, fits);
        let window_start = byte_at(rest, fits * 4 / 5);
        let at = rest[window_start..cut]
            .rfind(char::is_whitespace)
            .map(|i| window_start + i + 1)
            .filter(|&i| i > 0 && i <= cut && !rest[..i].trim().is_empty())
            .unwrap_or(cut);
        pieces.push(&rest[..at]);
        rest = &rest[at..];
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

/// The byte offset of the `n`th character (or the end).
fn byte_at(text: &str, n: usize) -> usize {
    text.char_indices().nth(n).map_or(text.len(), |(i, _)| i)
}

/// The most characters from the start of `text` that measure at most `max`.
fn longest_prefix(text: &str, max: usize, m: &Measure) -> usize {
    let total = text.chars().count();
    if let Measure::Chars = m {
        return total.min(max);
    }
    let (mut lo, mut hi) = (0, total);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if m.len(&text[..byte_at(text, mid)]) <= max {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// The fewest characters to drop from the start of `text` so the rest
/// measures at most `n`.
fn shortest_drop(text: &str, n: usize, m: &Measure) -> usize {
    let total = text.chars().count();
    if let Measure::Chars = m {
        return total.saturating_sub(n);
    }
    let (mut lo, mut hi) = (0, total);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if m.len(&text[byte_at(text, mid)..]) <= n {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The end of `text`, measuring at most `n`, starting at a sentence
/// boundary when one is in reach, else at a word boundary.
fn tail<'t>(text: &'t str, n: usize, m: &Measure) -> &'t str {
    if n == 0 {
        return "";
    }
    if m.len(text) <= n {
        return text;
    }
    let start = byte_at(text, shortest_drop(text, n, m));
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

    #[test]
    fn token_chunks_never_exceed_the_limit() {
        let t = Tokenizer::tiktoken("cl100k_base").unwrap();
        let text = format!(
            "{}\n\n{}\n\n{}",
            "The detective waits in the rain. ".repeat(40),
            "夜色笼罩城市，侦探走进雨中。".repeat(30),
            "x".repeat(3000)
        );
        let chunking = Chunking::tokens(t.clone(), 64, 16, 8191).unwrap();
        let chunks = split(&text, &chunking);
        assert!(chunks.len() > 10, "{}", chunks.len());
        for c in &chunks {
            assert!(t.count(c) <= 64, "{} tokens: {c}", t.count(c));
        }
        // Most of the budget is used: sizes are tokens, not characters.
        let full = chunks.iter().filter(|c| t.count(c) > 40).count();
        assert!(full * 2 > chunks.len(), "{chunks:?}");
    }

    fn chunking(max: usize, overlap: usize) -> Chunking {
        Chunking {
            max,
            overlap,
            measure: Measure::Chars,
        }
    }

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(split("  hello world \n", &Chunking::default()), vec!["hello world"]);
        assert!(split("  \n ", &Chunking::default()).is_empty());
    }

    #[test]
    fn paragraphs_are_kept_whole_when_they_fit() {
        let p1 = "First paragraph. It has two sentences.";
        let p2 = "Second paragraph is here.";
        let p3 = "Third one closes the text.";
        let text = format!("{p1}\n\n{p2}\n\n{p3}");
        let chunks = split(&text, &chunking(70, 0));
        assert_eq!(chunks, [format!("{p1}\n\n{p2}").as_str(), p3].to_vec());
        for c in &chunks {
            assert!(c.chars().count() <= 70);
        }
    }

    #[test]
    fn chinese_sentences_split_on_their_punctuation() {
        let text = "夜色笼罩城市。侦探走进雨中！他在找什么？没有人知道；只有风声。".repeat(3);
        let chunks = split(&text, &chunking(30, 0));
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
        let chunks = split(text, &chunking(40, 20));
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
        let chunks = split(&text, &chunking(100, 0));
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), text);
    }

    #[test]
    fn limits_are_checked() {
        assert!(Chunking::chars(Some(50), None).is_err());
        assert_eq!(Chunking::chars(Some(1000), Some(600)).unwrap_err().0, "overlap");
        assert_eq!(
            Chunking::chars(None, None).unwrap().describe(),
            Chunking::default().describe()
        );
        let t = Tokenizer::tiktoken("cl100k_base").unwrap();
        assert_eq!(Chunking::tokens(t.clone(), 9000, 64, 8191).unwrap_err().0, "maxTokens");
        assert_eq!(
            Chunking::tokens(t.clone(), 100, 60, 8191).unwrap_err().0,
            "overlapTokens"
        );
        assert_eq!(
            Chunking::tokens(t, 512, 64, 8191).unwrap().describe(),
            "v2 tokens cl100k_base 512/64"
        );
    }
}
