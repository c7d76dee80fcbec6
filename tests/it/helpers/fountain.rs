//! A small Fountain reader written from the syntax page
//! (https://fountain.io/syntax), independent of the server's writer, so that
//! tests can check what a Fountain application would read back.

/// One element as a Fountain application reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Element {
    TitleField(String, String),
    Section(usize, String),
    Synopsis(String),
    SceneHeading(String),
    Action(String),
    Character(String),
    Parenthetical(String),
    Dialogue(String),
    Transition(String),
    Note(String),
}

fn is_upper(s: &str) -> bool {
    s.chars().any(char::is_alphabetic) && !s.chars().any(char::is_lowercase) && s.chars().any(char::is_uppercase)
}

fn scene_heading_prefix(line: &str) -> bool {
    let upper = line.to_uppercase();
    ["INT./EXT", "INT/EXT", "INT", "EXT", "EST", "I/E"]
        .iter()
        .any(|p| upper.strip_prefix(p).is_some_and(|rest| rest.starts_with(['.', ' '])))
}

/// Reads a Fountain document.
pub fn parse(text: &str) -> Vec<Element> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    // Title page: `Key: value` lines up to the first blank line.
    if lines
        .first()
        .is_some_and(|l| l.contains(':') && !l.starts_with(['!', '.', '@', '#']))
    {
        while i < lines.len() && !lines[i].trim().is_empty() {
            if let Some((k, v)) = lines[i].split_once(':') {
                out.push(Element::TitleField(k.trim().to_owned(), v.trim().to_owned()));
            }
            i += 1;
        }
    }
    let blank = |j: usize| j >= lines.len() || lines[j].trim().is_empty();
    let mut in_speech = false;
    while i < lines.len() {
        let line = lines[i];
        let prev_blank = i == 0 || (lines[i - 1].trim().is_empty() && lines[i - 1] != "  ");
        if line.trim().is_empty() && line != "  " {
            in_speech = false;
            i += 1;
            continue;
        }
        if in_speech {
            let t = line.trim();
            if t.starts_with('(') && t.ends_with(')') {
                out.push(Element::Parenthetical(t.to_owned()));
            } else {
                let text = if line == "  " { "" } else { t };
                match out.last_mut() {
                    Some(Element::Dialogue(d)) => {
                        d.push('\n');
                        d.push_str(text);
                    }
                    _ => out.push(Element::Dialogue(text.to_owned())),
                }
            }
            i += 1;
            continue;
        }
        if let Some(rest) = line.strip_prefix("[[") {
            let mut body = rest.to_owned();
            while !body.contains("]]") && i + 1 < lines.len() {
                i += 1;
                body.push('\n');
                body.push_str(if lines[i] == "  " { "" } else { lines[i] });
            }
            out.push(Element::Note(body.trim_end_matches("]]").to_owned()));
            i += 1;
            continue;
        }
        if line.starts_with('#') {
            let level = line.chars().take_while(|c| *c == '#').count();
            out.push(Element::Section(level, line[level..].trim().to_owned()));
        } else if let Some(rest) = line.strip_prefix('=').filter(|_| !line.starts_with("===")) {
            out.push(Element::Synopsis(rest.trim().to_owned()));
        } else if let Some(rest) = line.strip_prefix('!') {
            push_action(&mut out, rest, prev_blank);
        } else if let Some(rest) = line.strip_prefix('@') {
            out.push(Element::Character(rest.trim().to_owned()));
            in_speech = !blank(i + 1);
        } else if line.starts_with('.') && !line.starts_with("..") {
            out.push(Element::SceneHeading(line[1..].trim().to_owned()));
        } else if let Some(rest) = line.strip_prefix('>').filter(|_| !line.trim_end().ends_with('<')) {
            out.push(Element::Transition(rest.trim().to_owned()));
        } else if prev_blank && blank(i + 1) && scene_heading_prefix(line) {
            out.push(Element::SceneHeading(line.trim().to_owned()));
        } else if prev_blank && blank(i + 1) && is_upper(line) && line.trim_end().ends_with("TO:") {
            out.push(Element::Transition(line.trim().to_owned()));
        } else if prev_blank && !blank(i + 1) && is_upper(line.split('(').next().unwrap_or(line)) {
            out.push(Element::Character(line.trim().to_owned()));
            in_speech = true;
        } else {
            push_action(&mut out, line, prev_blank);
        }
        i += 1;
    }
    out
}

/// Action lines of one paragraph are one element.
fn push_action(out: &mut Vec<Element>, line: &str, starts_paragraph: bool) {
    if !starts_paragraph && let Some(Element::Action(a)) = out.last_mut() {
        a.push('\n');
        a.push_str(line.trim_end());
        return;
    }
    out.push(Element::Action(line.trim_end().to_owned()));
}
