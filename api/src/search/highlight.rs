//! Highlights: a short passage of a chunk around the query's terms, HTML
//! escaped, with each match wrapped in `<mark>` … `</mark>`, so clients can
//! insert it as HTML as it is.

use crate::text::is_cjk;

/// Characters of context in a highlight.
pub const WINDOW: usize = 200;

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "is", "it", "of", "on", "or", "the", "to",
    "was", "with",
];

/// What to look for: lowercase word stems (matched at word starts) and CJK
/// grams (matched anywhere).
fn terms(query: &str) -> Vec<Vec<char>> {
    let mut out: Vec<Vec<char>> = Vec::new();
    let lower = query.to_lowercase();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    let flush = |word: &mut String, run: &mut Vec<char>, out: &mut Vec<Vec<char>>| {
        if word.chars().count() >= 2 && !STOP_WORDS.contains(&word.as_str()) {
            // A crude stem: enough for "running" to mark "runs" and "run".
            let keep = if word.is_ascii() && word.len() > 4 {
                word.len() - 2
            } else {
                word.len()
            }
            .max(3);
            out.push(word.chars().take(keep).collect());
        }
        word.clear();
        if run.len() == 1 {
            out.push(run.clone());
        }
        for pair in run.windows(2) {
            out.push(pair.to_vec());
        }
        run.clear();
    };
    for c in lower.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                flush(&mut word, &mut Vec::new(), &mut out);
            }
            run.push(c);
        } else if c.is_alphanumeric() {
            if !run.is_empty() {
                flush(&mut String::new(), &mut run, &mut out);
            }
            word.push(c);
        } else {
            flush(&mut word, &mut run, &mut out);
        }
    }
    flush(&mut word, &mut run, &mut out);
    out.sort();
    out.dedup();
    out
}

/// What a query marks, worked out once per search and applied to each hit.
pub struct Highlighter {
    terms: Vec<Vec<char>>,
    /// The terms' first characters, sorted: most positions of a chunk start
    /// no term, and one lookup tells.
    firsts: Vec<char>,
}

impl Highlighter {
    pub fn new(query: &str) -> Self {
        let terms = terms(query);
        let mut firsts: Vec<char> = terms.iter().map(|t| t[0]).collect();
        firsts.dedup(); // `terms` are sorted
        Self { terms, firsts }
    }

    /// The highlight of `content`: the window of [`WINDOW`] characters
    /// holding the most matches (the start of the chunk when nothing
    /// matches).
    pub fn highlight(&self, content: &str) -> String {
        if self.terms.is_empty() {
            // Nothing to mark (a vector search without text): the chunk's start.
            let chars: Vec<char> = content.chars().take(WINDOW + 1).collect();
            let end = chars.len().min(WINDOW);
            let mut out = String::new();
            escape_into(&mut out, &chars[..end]);
            if chars.len() > WINDOW {
                out.push('…');
            }
            return out;
        }
        let chars: Vec<char> = content.chars().collect();
        let lower: Vec<char> = chars.iter().map(|&c| lowercase(c)).collect();
        let matches = self.matches(&lower);
        let (start, end) = window(&matches, chars.len());
        let mut out = String::with_capacity(content.len().min(4 * WINDOW) + 64);
        if start > 0 {
            out.push('…');
        }
        let mut pos = start;
        for &(a, b) in matches.iter().filter(|m| m.1 > start && m.0 < end) {
            let (a, b) = (a.max(start), b.min(end));
            escape_into(&mut out, &chars[pos..a]);
            out.push_str("<mark>");
            escape_into(&mut out, &chars[a..b]);
            out.push_str("</mark>");
            pos = b;
        }
        escape_into(&mut out, &chars[pos..end]);
        if end < chars.len() {
            out.push('…');
        }
        out
    }

    /// Matches as (start, end) char ranges, non-overlapping, in order.
    fn matches(&self, lower: &[char]) -> Vec<(usize, usize)> {
        self.scan(lower, |c| self.firsts.binary_search(&c).is_err())
    }

    /// [`Self::matches`], passing over the positions whose character
    /// `starts_none` says no term starts with (a shortcut: the same matches
    /// without it).
    fn scan(&self, lower: &[char], starts_none: impl Fn(char) -> bool) -> Vec<(usize, usize)> {
        let mut matches: Vec<(usize, usize)> = Vec::new();
        let mut i = 0;
        while i < lower.len() {
            if starts_none(lower[i]) {
                i += 1;
                continue;
            }
            let word_start = i == 0 || !lower[i - 1].is_alphanumeric() || is_cjk(lower[i]);
            let found = self
                .terms
                .iter()
                .filter(|t| lower[i..].starts_with(t) && (is_cjk(t[0]) || word_start))
                .map(|t| {
                    // A word match runs to the end of the word.
                    let mut end = i + t.len();
                    if !is_cjk(t[0]) {
                        while end < lower.len() && lower[end].is_alphanumeric() && !is_cjk(lower[end]) {
                            end += 1;
                        }
                    }
                    end
                })
                .max();
            match found {
                Some(end) => {
                    // Neighbouring CJK grams merge into one mark.
                    match matches.last_mut() {
                        Some(last) if last.1 >= i => last.1 = last.1.max(end),
                        _ => matches.push((i, end)),
                    }
                    i = if is_cjk(lower[i]) { i + 1 } else { end };
                }
                None => i += 1,
            }
        }
        matches
    }
}

/// The highlight of `content` for `query` (see [`Highlighter`]).
#[cfg(test)]
pub fn highlight(content: &str, query: &str) -> String {
    Highlighter::new(query).highlight(content)
}

/// A chunk's character as matching compares it: the first character of its
/// lowercase form (ASCII without the Unicode tables).
fn lowercase(c: char) -> char {
    if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        c.to_lowercase().next().unwrap_or(c)
    }
}

/// The window of a chunk of `len` characters to show: the whole of a short
/// one, else [`WINDOW`] characters from a little before the match that
/// starts the most matches within a window.
fn window(matches: &[(usize, usize)], len: usize) -> (usize, usize) {
    if len <= WINDOW {
        (0, len)
    } else if matches.is_empty() {
        (0, WINDOW)
    } else {
        let mut best = (0usize, matches[0].0);
        for (a, m) in matches.iter().enumerate() {
            let count = matches[a..].iter().take_while(|n| n.1 <= m.0 + WINDOW).count();
            if count > best.0 {
                best = (count, m.0);
            }
        }
        let start = best.1.saturating_sub(WINDOW / 5);
        let start = start.min(len - WINDOW);
        (start, start + WINDOW)
    }
}

fn escape_into(out: &mut String, chars: &[char]) {
    for &c in chars {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_english_stems_and_escapes() {
        let h = highlight(
            "The <b>detective</b> runs; running is what he does.",
            "detectives running",
        );
        assert_eq!(
            h,
            "The &lt;b&gt;<mark>detective</mark>&lt;/b&gt; runs; <mark>running</mark> is what he does."
        );
    }

    #[test]
    fn marks_chinese_grams_and_windows_long_text() {
        let text = format!(
            "{}侦探在雨夜追踪嫌疑人。{}",
            "无关内容。".repeat(60),
            "其他。".repeat(60)
        );
        let h = highlight(&text, "雨夜追踪");
        assert!(h.contains("<mark>雨夜追踪</mark>"), "{h}");
        assert!(h.starts_with('…') && h.ends_with('…'));
        assert!(h.chars().count() < WINDOW + 40);
    }

    #[test]
    fn the_first_character_lookup_finds_every_match() {
        let pieces = [
            "Rain",
            "rain",
            "alley",
            "DETECTIVE",
            "detectives",
            "雨夜",
            "追踪",
            "嫌疑人",
            "the",
            " ",
            " ",
            ", ",
            "。",
            "x",
            "RAINY",
            "Élan",
            "élan",
            "ÉLAN",
            "İstanbul",
            "雨",
            "夜",
            "-",
            "alle",
        ];
        let queries = [
            "rain alley detective",
            "雨夜追踪",
            "élan İstanbul",
            "Rain, the alley",
            "夜 x",
        ];
        let mut seed = 7u64;
        for _ in 0..400 {
            let mut text = String::new();
            for _ in 0..30 {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
            }
            let lower: Vec<char> = text.chars().map(lowercase).collect();
            for query in queries {
                let h = Highlighter::new(query);
                // Every term tried at every position.
                assert_eq!(h.matches(&lower), h.scan(&lower, |_| false), "{query} in {text}");
            }
        }
    }

    #[test]
    fn no_match_gives_the_start() {
        assert_eq!(highlight("short text", "zebra"), "short text");
    }

    #[test]
    fn no_terms_give_the_same_start_as_no_match() {
        let text = "<a> & 雨夜 ".repeat(40);
        assert_eq!(highlight(&text, ""), highlight(&text, "zebra"));
        assert_eq!(highlight("<b>", "  "), "&lt;b&gt;");
    }
}
