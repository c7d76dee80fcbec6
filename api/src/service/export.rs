//! The screenplay of a session: the current version of every fragment in
//! outline order (steps depth first, fragments by position), as Fountain
//! (<https://fountain.io/syntax>), plain text, or JSON.
//!
//! Fountain output: a title page, the outline as sections (`#` acts, `##`
//! sequences, `###` scenes) with their descriptions as synopses (`=`), and
//! the fragments as screenplay elements. Elements are forced where a reader
//! would misread them: `.` for a scene heading without INT/EXT, `@` for a
//! character name that is not all upper case (or has no case, such as
//! Chinese), `>` for a transition that does not end in `TO:`, `!` for an
//! action line that looks like a heading, a character cue or a transition.
//! A DIALOGUE or PARENTHETICAL fragment that names a character gets a cue
//! when it does not continue that character's speech; one with no speaker at
//! all is written as (forced) action rather than lost.

use std::collections::HashMap;

use entity::{
    enums::FragmentKind, outline_steps as steps, screenplay_fragments as fragments, screenplay_sessions as sessions,
};
use sea_orm::{ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use super::outline;
use crate::db::TenantOwned;
use crate::{
    auth::TenantCaller,
    error::{AppError, AppResult},
};

/// Output formats of `session.screenplay`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Fountain,
    Plain,
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "fountain" => Ok(Self::Fountain),
            "plain" | "text" => Ok(Self::Plain),
            "json" => Ok(Self::Json),
            other => Err(format!("unknown format `{other}` (fountain, plain or json)")),
        }
    }
}

/// Loads a session's outline and fragments (in a transaction scoped to its
/// tenant) and renders it.
pub async fn load_and_render(
    db: &impl ConnectionTrait,
    caller: &TenantCaller,
    session_id: Uuid,
    format: Format,
) -> AppResult<String> {
    let tenant_id = caller.tenant_id;
    let session = sessions::Entity::find_by_id_in(tenant_id, session_id)
        .one(db)
        .await?
        .ok_or(AppError::not_found("session"))?;
    let all_steps = steps::Entity::find_in(tenant_id)
        .filter(steps::Column::SessionId.eq(session_id))
        .all(db)
        .await?;
    let all_fragments = fragments::Entity::find_in(tenant_id)
        .filter(fragments::Column::SessionId.eq(session_id))
        .order_by_asc(fragments::Column::Position)
        .all(db)
        .await?;
    Ok(render(&session, &all_steps, &all_fragments, format))
}

/// Renders a session's screenplay.
pub fn render(
    session: &sessions::Model,
    all_steps: &[steps::Model],
    all_fragments: &[fragments::Model],
    format: Format,
) -> String {
    let mut by_step: HashMap<Uuid, Vec<&fragments::Model>> = HashMap::new();
    for f in all_fragments {
        by_step.entry(f.step_id).or_default().push(f);
    }
    for list in by_step.values_mut() {
        list.sort_by_key(|f| (f.position, f.id));
    }
    let ordered = outline::outline_order(all_steps);
    let depth = depths(all_steps);
    match format {
        Format::Fountain => fountain(session, &ordered, &by_step, &depth),
        Format::Plain => plain(session, &ordered, &by_step),
        Format::Json => json_document(session, all_steps, &by_step),
    }
}

fn depths(all: &[steps::Model]) -> HashMap<Uuid, usize> {
    let parent: HashMap<Uuid, Option<Uuid>> = all.iter().map(|s| (s.id, s.parent_step_id)).collect();
    all.iter()
        .map(|s| {
            let mut d = 1;
            let mut p = s.parent_step_id;
            while let Some(id) = p {
                d += 1;
                p = parent.get(&id).copied().flatten();
                if d > all.len() {
                    break;
                }
            }
            (s.id, d)
        })
        .collect()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a line has letters with case and all of them upper case.
fn is_upper(s: &str) -> bool {
    s.chars().any(|c| c.is_lowercase() || c.is_uppercase()) && !s.chars().any(char::is_lowercase)
}

/// Whether a line starts like a scene heading (INT, EXT, EST, INT./EXT, INT/EXT, I/E + `.` or space).
pub fn looks_like_scene_heading(line: &str) -> bool {
    let upper = line.trim_start().to_uppercase();
    ["INT./EXT", "INT/EXT", "INT", "EXT", "EST", "I/E"]
        .iter()
        .any(|p| upper.strip_prefix(p).is_some_and(|rest| rest.starts_with(['.', ' '])))
}

/// Whether an action line would be read as something else on its own.
fn action_needs_force(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with(['!', '@', '~', '>', '.', '#', '=', '^'])
        || t.starts_with("[[")
        || t.starts_with("/*")
        || looks_like_scene_heading(t)
        || is_upper(t)
}

fn scene_heading(content: &str) -> String {
    let line = one_line(content);
    if looks_like_scene_heading(&line) && !line.starts_with('.') {
        line
    } else {
        format!(".{}", line.trim_start_matches('.'))
    }
}

fn transition(content: &str) -> String {
    let line = one_line(content);
    if is_upper(&line) && line.ends_with("TO:") && !line.starts_with(['>', '!', '.', '@']) {
        line
    } else {
        format!("> {}", line.trim_start_matches('>').trim_start())
    }
}

/// The name part of a cue (before an extension such as `(V.O.)`).
fn cue_name(name: &str) -> &str {
    name.split('(').next().unwrap_or(name).trim()
}

fn cue(name: &str) -> String {
    let name = one_line(name);
    let plain = cue_name(&name);
    if is_upper(plain)
        && !name.starts_with(['!', '@', '.', '>', '#', '=', '~', '['])
        && !looks_like_scene_heading(&name)
    {
        name
    } else {
        format!("@{}", name.trim_start_matches('@'))
    }
}

fn same_speaker(a: &str, b: &str) -> bool {
    cue_name(a).to_lowercase() == cue_name(b).to_lowercase()
}

fn parenthetical(content: &str) -> String {
    let line = one_line(content);
    if line.starts_with('(') && line.ends_with(')') {
        line
    } else {
        format!("({line})")
    }
}

fn action(content: &str) -> String {
    content
        .lines()
        .map(|l| {
            let l = l.trim_end();
            if !l.is_empty() && action_needs_force(l) {
                format!("!{l}")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Dialogue lines; an empty line inside speech is written as two spaces so
/// that the speech continues.
fn dialogue(content: &str) -> String {
    content
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                "  ".to_owned()
            } else {
                l.trim_end().to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn note(content: &str) -> String {
    let body = content
        .replace("]]", "] ]")
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                "  ".to_owned()
            } else {
                l.trim_end().to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!("[[{body}]]")
}

/// Paragraphs separated by blank lines; a speech is one paragraph.
#[derive(Default)]
struct FountainWriter {
    paragraphs: Vec<String>,
    speech: Option<(String, Vec<String>)>,
}

impl FountainWriter {
    fn close_speech(&mut self) {
        if let Some((_, lines)) = self.speech.take() {
            self.paragraphs.push(lines.join("\n"));
        }
    }

    fn paragraph(&mut self, text: String) {
        self.close_speech();
        self.paragraphs.push(text);
    }

    /// Adds a line to the current speech of `speaker` (opening one with a
    /// cue when needed). Without any speaker, the text becomes action.
    fn speech_line(&mut self, speaker: Option<&str>, line: String, fallback: &str) {
        let continues = match (&self.speech, speaker) {
            (Some(_), None) => true,
            (Some((current, _)), Some(name)) => same_speaker(current, name),
            (None, _) => false,
        };
        if continues {
            if let Some((_, lines)) = &mut self.speech {
                lines.push(line);
            }
            return;
        }
        match speaker {
            Some(name) => {
                self.close_speech();
                self.speech = Some((name.to_owned(), vec![cue(name), line]));
            }
            None => {
                let forced = fallback
                    .lines()
                    .map(|l| format!("!{}", l.trim_end()))
                    .collect::<Vec<_>>()
                    .join("\n");
                self.paragraph(forced);
            }
        }
    }

    fn fragment(&mut self, f: &fragments::Model) {
        match f.kind {
            FragmentKind::SceneHeading => self.paragraph(scene_heading(&f.content)),
            FragmentKind::Action => self.paragraph(action(&f.content)),
            FragmentKind::Transition => self.paragraph(transition(&f.content)),
            FragmentKind::Note => self.paragraph(note(&f.content)),
            FragmentKind::Character => {
                self.close_speech();
                let name = one_line(&f.content);
                self.speech = Some((name.clone(), vec![cue(&name)]));
            }
            FragmentKind::Parenthetical => {
                self.speech_line(f.character.as_deref(), parenthetical(&f.content), &f.content)
            }
            FragmentKind::Dialogue => self.speech_line(f.character.as_deref(), dialogue(&f.content), &f.content),
        }
    }

    fn finish(mut self) -> String {
        self.close_speech();
        let mut out = self.paragraphs.join("\n\n");
        out.push('\n');
        out
    }
}

fn fountain(
    session: &sessions::Model,
    ordered: &[&steps::Model],
    by_step: &HashMap<Uuid, Vec<&fragments::Model>>,
    depth: &HashMap<Uuid, usize>,
) -> String {
    let mut w = FountainWriter::default();
    let mut title_page = vec![format!("Title: {}", one_line(&session.title))];
    if let Some(logline) = &session.logline {
        title_page.push(format!("Logline: {}", one_line(logline)));
    }
    if let Some(genre) = &session.genre {
        title_page.push(format!("Genre: {}", one_line(genre)));
    }
    w.paragraph(title_page.join("\n"));
    for step in ordered {
        let level = depth.get(&step.id).copied().unwrap_or(1);
        w.paragraph(format!("{} {}", "#".repeat(level), one_line(&step.title)));
        if let Some(description) = &step.description {
            let synopsis = description
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| format!("= {}", l.trim()))
                .collect::<Vec<_>>()
                .join("\n");
            if !synopsis.is_empty() {
                w.paragraph(synopsis);
            }
        }
        for f in by_step.get(&step.id).into_iter().flatten() {
            w.fragment(f);
        }
    }
    w.finish()
}

fn plain(
    session: &sessions::Model,
    ordered: &[&steps::Model],
    by_step: &HashMap<Uuid, Vec<&fragments::Model>>,
) -> String {
    const CUE: usize = 22;
    const PAREN: usize = 16;
    const SPEECH: usize = 10;
    const TRANSITION: usize = 45;
    let pad = |n: usize, text: &str| {
        text.lines()
            .map(|l| format!("{}{}", " ".repeat(n), l.trim()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut blocks = vec![one_line(&session.title).to_uppercase()];
    let mut speaker: Option<String> = None;
    let mut speech: Vec<String> = Vec::new();
    let flush = |speech: &mut Vec<String>, blocks: &mut Vec<String>| {
        if !speech.is_empty() {
            blocks.push(speech.join("\n"));
            speech.clear();
        }
    };
    for step in ordered {
        for f in by_step.get(&step.id).into_iter().flatten() {
            match f.kind {
                FragmentKind::Character => {
                    flush(&mut speech, &mut blocks);
                    speaker = Some(one_line(&f.content));
                    speech.push(pad(CUE, &one_line(&f.content).to_uppercase()));
                }
                FragmentKind::Dialogue | FragmentKind::Parenthetical => {
                    let continues = !speech.is_empty()
                        && match (&speaker, &f.character) {
                            (_, None) => true,
                            (Some(a), Some(b)) => same_speaker(a, b),
                            (None, Some(_)) => false,
                        };
                    if !continues {
                        flush(&mut speech, &mut blocks);
                        if let Some(name) = &f.character {
                            speaker = Some(name.clone());
                            speech.push(pad(CUE, &one_line(name).to_uppercase()));
                        }
                    }
                    if f.kind == FragmentKind::Dialogue {
                        speech.push(pad(SPEECH, &f.content));
                    } else {
                        speech.push(pad(PAREN, &parenthetical(&f.content)));
                    }
                }
                FragmentKind::Note => {}
                FragmentKind::SceneHeading => {
                    flush(&mut speech, &mut blocks);
                    blocks.push(one_line(&f.content).to_uppercase());
                }
                FragmentKind::Transition => {
                    flush(&mut speech, &mut blocks);
                    blocks.push(pad(TRANSITION, &one_line(&f.content).to_uppercase()));
                }
                FragmentKind::Action => {
                    flush(&mut speech, &mut blocks);
                    blocks.push(f.content.lines().map(str::trim_end).collect::<Vec<_>>().join("\n"));
                }
            }
        }
    }
    flush(&mut speech, &mut blocks);
    let mut out = blocks.join("\n\n");
    out.push('\n');
    out
}

fn json_document(
    session: &sessions::Model,
    all_steps: &[steps::Model],
    by_step: &HashMap<Uuid, Vec<&fragments::Model>>,
) -> String {
    let mut children: HashMap<Option<Uuid>, Vec<&steps::Model>> = HashMap::new();
    for s in all_steps {
        children.entry(s.parent_step_id).or_default().push(s);
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| (s.position, s.id));
    }
    fn tree(
        parent: Option<Uuid>,
        children: &HashMap<Option<Uuid>, Vec<&steps::Model>>,
        by_step: &HashMap<Uuid, Vec<&fragments::Model>>,
    ) -> Vec<serde_json::Value> {
        children
            .get(&parent)
            .into_iter()
            .flatten()
            .map(|s| {
                let fragments: Vec<serde_json::Value> = by_step
                    .get(&s.id)
                    .into_iter()
                    .flatten()
                    .map(|f| {
                        json!({
                            "id": f.id, "kind": f.kind.as_str().to_uppercase(), "character": f.character,
                            "content": f.content, "version": f.version, "origin": f.origin.as_str().to_uppercase(),
                        })
                    })
                    .collect();
                json!({
                    "id": s.id, "title": s.title, "description": s.description,
                    "status": s.status.as_str().to_uppercase(),
                    "fragments": fragments,
                    "children": tree(Some(s.id), children, by_step),
                })
            })
            .collect()
    }
    let doc = json!({
        "sessionId": session.id,
        "title": session.title,
        "logline": session.logline,
        "genre": session.genre,
        "language": session.language,
        "status": session.status.as_str().to_uppercase(),
        "version": session.version,
        "outline": tree(None, &children, by_step),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forcing_rules() {
        assert_eq!(scene_heading("INT. KITCHEN - NIGHT"), "INT. KITCHEN - NIGHT");
        assert_eq!(scene_heading("The kitchen"), ".The kitchen");
        assert_eq!(cue("ALICE"), "ALICE");
        assert_eq!(cue("ALICE (V.O.)"), "ALICE (V.O.)");
        assert_eq!(cue("McCLANE"), "@McCLANE");
        assert_eq!(cue("李雷"), "@李雷");
        assert_eq!(transition("CUT TO:"), "CUT TO:");
        assert_eq!(transition("FADE OUT."), "> FADE OUT.");
        assert_eq!(action("BOOM!\nA door slams."), "!BOOM!\nA door slams.");
        assert_eq!(action("INT. is where it starts"), "!INT. is where it starts");
        assert_eq!(parenthetical("quietly"), "(quietly)");
        assert_eq!(note("see ]] here"), "[[see ] ] here]]");
    }
}
