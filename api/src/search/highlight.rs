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

/// The highlight of `content` for `query`: the window of [`WINDOW`]
/// characters holding the most matches (the start of the chunk when
/// nothing matches).
pub fn highlight(content: &str, query: &str) -> String {
    let terms = terms(query);
    if terms.is_empty() {
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
    let lower: Vec<char> = content.chars().map(|c| c.to_lowercase().next().unwrap_or(c)).collect();
    // Matches as (start, end) char ranges, non-overlapping, in order.
    let mut matches: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < lower.len() {
        let word_start = i == 0 || !lower[i - 1].is_alphanumeric() || is_cjk(lower[i]);
        let found = terms
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
    let (start, end) = if chars.len() <= WINDOW {
        (0, chars.len())
    } else if matches.is_empty() {
        (0, WINDOW)
    } else {
        // The window start (at a match) covering the most matches.
        let mut best = (0usize, matches[0].0);
        for (a, m) in matches.iter().enumerate() {
            let count = matches[a..].iter().take_while(|n| n.1 <= m.0 + WINDOW).count();
            if count > best.0 {
                best = (count, m.0);
            }
        }
        let start = best.1.saturating_sub(WINDOW / 5);
        let start = start.min(chars.len() - WINDOW);
        (start, start + WINDOW)
    };
    let mut out = String::new();
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
