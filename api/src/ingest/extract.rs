//! Files to text: PDF (its text layer, pdf-extract), Word (DOCX: the
//! document part of the zip, quick-xml), HTML (the main text, html5ever via
//! scraper), Markdown (pulldown-cmark finds the headings) and plain text in
//! any encoding `decode` recognises. Headings become sections, so every
//! chunk knows the heading it sits under.

use std::io::{Cursor, Read};

use tokio::sync::Semaphore;

use super::decode::{Decoded, decode};

/// What a document was extracted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
}

impl Format {
    /// The name stored on each chunk (`code_documents.source_format`).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
        }
    }
}

/// A run of text under one heading path (`Act One > The Projectionist`),
/// or before the first heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub heading: Option<String>,
    pub text: String,
}

/// A document's text, as sections in reading order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    pub format: Format,
    /// The text encoding of a text-based file (`UTF-8`, `GB18030`…).
    pub encoding: Option<&'static str>,
    /// A title the file declares (HTML `<title>`).
    pub title: Option<String>,
    pub sections: Vec<Section>,
}

/// Extensions read as plain text (code and notes included).
pub const TEXT_EXTENSIONS: &[&str] = &[
    "txt", "text", "rst", "adoc", "org", "fountain", "spmd", "fdx", "tex", "csv", "tsv", "json", "yaml", "yml", "toml",
    "xml", "rs", "py", "js", "mjs", "ts", "tsx", "jsx", "go", "java", "kt", "scala", "c", "h", "cc", "cpp", "hpp",
    "cs", "rb", "php", "swift", "m", "sh", "bash", "sql", "lua", "r", "jl", "hs", "ml", "ex", "exs", "erl", "clj",
    "dart", "vue", "svelte", "css", "scss", "log", "srt",
];

const MARKDOWN_EXTENSIONS: &[&str] = &["md", "markdown", "mdx"];
const HTML_EXTENSIONS: &[&str] = &["html", "htm", "xhtml"];

/// Largest uncompressed `word/document.xml` read (a zip bomb stops here).
const MAX_DOCX_XML_BYTES: u64 = 64 * 1024 * 1024;

/// The format of a file named `name`: its magic bytes, then its extension.
/// `None`: a type that is not read (images, archives, old `.doc`…).
pub fn format_of(name: &str, bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(b"%PDF-") {
        return Some(Format::Pdf);
    }
    let ext = extension(name);
    if bytes.starts_with(b"PK\x03\x04") {
        return (ext == "docx").then_some(Format::Docx);
    }
    match ext.as_str() {
        "pdf" => Some(Format::Pdf),
        "docx" => Some(Format::Docx),
        e if MARKDOWN_EXTENSIONS.contains(&e) => Some(Format::Markdown),
        e if HTML_EXTENSIONS.contains(&e) => Some(Format::Html),
        e if TEXT_EXTENSIONS.contains(&e) || e.is_empty() => Some(Format::Text),
        _ => None,
    }
}

/// Whether a folder walk picks up files named like this.
pub fn is_supported_name(name: &str) -> bool {
    !extension(name).is_empty() && format_of(name, b"").is_some()
}

fn extension(name: &str) -> String {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    match file.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// Files extracted at once, server-wide. Parsing a PDF or a Word file
/// takes a blocking thread and CPU that no timeout can take back, so a flood
/// of uploads queues here instead of taking every core.
static EXTRACTIONS: Semaphore = Semaphore::const_new(2);

/// [`extract`] on a blocking thread, at most two at a time.
pub async fn extract_bounded(name: String, bytes: Vec<u8>) -> Result<Extracted, String> {
    let _permit = EXTRACTIONS
        .acquire()
        .await
        .map_err(|_| "extraction has stopped".to_owned())?;
    tokio::task::spawn_blocking(move || extract(&name, &bytes))
        .await
        .map_err(|e| format!("extraction stopped: {e}"))?
}

/// The text of a file named `name`, or why it cannot be indexed.
pub fn extract(name: &str, bytes: &[u8]) -> Result<Extracted, String> {
    let Some(format) = format_of(name, bytes) else {
        return Err(format!("unsupported file type (.{})", extension(name)));
    };
    let extracted = match format {
        Format::Pdf => pdf(bytes)?,
        Format::Docx => docx(bytes)?,
        Format::Text | Format::Markdown | Format::Html => {
            let Decoded { text, encoding } = decode(bytes)?;
            let mut extracted = from_text(format, &text);
            extracted.encoding = Some(encoding);
            extracted
        }
    };
    if extracted.sections.iter().all(|s| s.text.trim().is_empty()) {
        return Err("no text found".into());
    }
    Ok(extracted)
}

/// Text that arrived as text (`content`): Markdown and HTML by the source
/// path's extension, anything else as is.
pub fn from_content(source_path: &str, text: &str) -> Extracted {
    let format = match format_of(source_path, b"") {
        Some(f @ (Format::Markdown | Format::Html)) => f,
        _ => Format::Text,
    };
    from_text(format, text)
}

fn from_text(format: Format, text: &str) -> Extracted {
    let (title, sections) = match format {
        Format::Markdown => (None, markdown(text)),
        Format::Html => html(text),
        _ => (
            None,
            vec![Section {
                heading: None,
                text: text.to_owned(),
            }],
        ),
    };
    Extracted {
        format,
        encoding: None,
        title,
        sections,
    }
}

/// The PDF's text layer, page by page. A PDF without one (a scan) is
/// refused rather than stored empty.
fn pdf(bytes: &[u8]) -> Result<Extracted, String> {
    // pdf-extract panics on some malformed files; a bad upload must not.
    let pages = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes))
        .map_err(|_| "not a readable PDF".to_owned())?
        .map_err(|e| format!("not a readable PDF: {e}"))?;
    let text = pages.iter().map(|p| tidy_lines(p)).collect::<Vec<_>>().join("\n\n");
    if text.trim().is_empty() {
        return Err(format!(
            "a scanned PDF: its {} page(s) have no text layer to index (run OCR on it first)",
            pages.len()
        ));
    }
    Ok(Extracted {
        format: Format::Pdf,
        encoding: None,
        title: None,
        sections: vec![Section { heading: None, text }],
    })
}

/// Lines without trailing spaces and without runs of blank lines.
fn tidy_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

/// Builds sections from headings and paragraphs in reading order; a heading
/// directly followed by another heading is not a section of its own.
#[derive(Default)]
struct Outline {
    path: Vec<(u8, String)>,
    sections: Vec<Section>,
    body: bool,
}

impl Outline {
    fn heading(&mut self, level: u8, text: &str) {
        self.heading_shown(level, text, text);
    }

    /// A heading named `text` that reads `shown` in the chunk (Markdown
    /// keeps its `#` line).
    fn heading_shown(&mut self, level: u8, text: &str, shown: &str) {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let shown = shown.trim();
        if text.is_empty() {
            return;
        }
        self.path.retain(|(l, _)| *l < level);
        self.path.push((level, text));
        let heading = Some(
            self.path
                .iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(" > "),
        );
        match self.sections.last_mut() {
            Some(last) if !self.body => {
                last.heading = heading;
                last.text.push_str(shown);
                last.text.push_str("\n\n");
            }
            _ => self.sections.push(Section {
                heading,
                text: format!("{shown}\n\n"),
            }),
        }
        self.body = false;
    }

    fn paragraph(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if self.sections.is_empty() {
            self.sections.push(Section {
                heading: None,
                text: String::new(),
            });
        }
        if let Some(last) = self.sections.last_mut() {
            last.text.push_str(text);
            last.text.push_str("\n\n");
        }
        self.body = true;
    }

    fn finish(self) -> Vec<Section> {
        self.sections
            .into_iter()
            .map(|s| Section {
                text: s.text.trim_end().to_owned(),
                heading: s.heading,
            })
            .filter(|s| !s.text.is_empty())
            .collect()
    }
}

/// Markdown cut at its headings; each section keeps its own source text
/// (heading lines included), so nothing of the Markdown is lost.
fn markdown(text: &str) -> Vec<Section> {
    use pulldown_cmark::{Event, Parser, Tag, TagEnd};
    // (heading source range, level, heading text)
    let mut headings: Vec<(std::ops::Range<usize>, u8, String)> = Vec::new();
    let mut current: Option<(std::ops::Range<usize>, u8, String)> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => current = Some((range, level as u8, String::new())),
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, _, heading)) = current.as_mut() {
                    heading.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => headings.extend(current.take()),
            _ => {}
        }
    }
    let mut outline = Outline::default();
    outline.paragraph(&text[..headings.first().map_or(text.len(), |h| h.0.start)]);
    for (i, (range, level, heading)) in headings.iter().enumerate() {
        let end = headings.get(i + 1).map_or(text.len(), |h| h.0.start);
        outline.heading_shown(*level, heading, &text[range.clone()]);
        outline.paragraph(&text[range.end.min(end)..end]);
    }
    outline.finish()
}

/// Elements whose text is never content.
const HTML_SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "aside", "footer", "form", "svg", "iframe", "button", "select",
    "object", "canvas", "head",
];

/// Elements that end a paragraph.
const HTML_BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "tr",
    "table",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "header",
    "address",
    "details",
    "summary",
    "hr",
    "body",
];

/// The title and the main text of an HTML page: the `<main>` (or first
/// `<article>`) when there is one, else the body without its page header;
/// never scripts, styles, navigation, asides or footers.
fn html(source: &str) -> (Option<String>, Vec<Section>) {
    use scraper::{Html, Selector};
    let page = Html::parse_document(source);
    let select = |css: &str| Selector::parse(css).ok().and_then(|s| page.select(&s).next());
    let title = select("title")
        .map(|t| {
            t.text()
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|t| !t.is_empty());
    let main = select("main, [role=main]").or_else(|| select("article"));
    let (root, skip_header) = match main {
        Some(main) => (main, false),
        None => (select("body").unwrap_or_else(|| page.root_element()), true),
    };
    let mut walker = HtmlWalker {
        outline: Outline::default(),
        paragraph: String::new(),
        skip_header,
    };
    walker.walk(root, false);
    walker.flush();
    (title, walker.outline.finish())
}

struct HtmlWalker {
    outline: Outline,
    paragraph: String,
    skip_header: bool,
}

impl HtmlWalker {
    fn walk(&mut self, node: scraper::ElementRef<'_>, pre: bool) {
        for child in node.children() {
            if let scraper::Node::Text(text) = child.value() {
                self.text(text, pre);
            }
            let Some(child) = scraper::ElementRef::wrap(child) else {
                continue;
            };
            let name = child.value().name();
            let hidden = child.attr("hidden").is_some() || child.attr("aria-hidden") == Some("true");
            if hidden || HTML_SKIPPED.contains(&name) || (self.skip_header && name == "header") {
                continue;
            }
            if let Some(level) = heading_level(name) {
                self.flush();
                self.outline.heading(level, &child.text().collect::<String>());
            } else if name == "br" {
                self.paragraph.push('\n');
            } else if HTML_BLOCKS.contains(&name) || name == "td" || name == "th" {
                self.block_break(name);
                self.walk(child, pre || name == "pre");
                self.block_break(name);
            } else {
                self.walk(child, pre);
            }
        }
    }

    fn text(&mut self, text: &str, pre: bool) {
        if pre {
            self.paragraph.push_str(text);
            return;
        }
        let starts_space = text.starts_with(char::is_whitespace);
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            if starts_space && !self.paragraph.ends_with([' ', '\n']) && !self.paragraph.is_empty() {
                self.paragraph.push(' ');
            }
            return;
        }
        if starts_space && !self.paragraph.is_empty() && !self.paragraph.ends_with([' ', '\n']) {
            self.paragraph.push(' ');
        }
        self.paragraph.push_str(&words.join(" "));
        if text.ends_with(char::is_whitespace) {
            self.paragraph.push(' ');
        }
    }

    /// Table cells end with a tab-like gap; other blocks end a paragraph.
    fn block_break(&mut self, name: &str) {
        if name == "td" || name == "th" {
            if !self.paragraph.ends_with([' ', '\n']) && !self.paragraph.is_empty() {
                self.paragraph.push(' ');
            }
        } else {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let text = std::mem::take(&mut self.paragraph);
        self.outline.paragraph(&text);
    }
}

fn heading_level(name: &str) -> Option<u8> {
    match name.as_bytes() {
        [b'h', d @ b'1'..=b'6'] => Some(d - b'0'),
        _ => None,
    }
}

/// A Word document's paragraphs (tables' included) in order; paragraphs in
/// a heading style (or with an outline level) start sections.
fn docx(bytes: &[u8]) -> Result<Extracted, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a readable DOCX: {e}"))?;
    let part = archive
        .by_name("word/document.xml")
        .map_err(|_| "not a readable DOCX: no word/document.xml".to_owned())?;
    let too_large = || {
        format!(
            "the document text is larger than {} MiB uncompressed",
            MAX_DOCX_XML_BYTES >> 20
        )
    };
    if part.size() > MAX_DOCX_XML_BYTES {
        return Err(too_large());
    }
    // The declared size may lie: read one byte past the limit to know.
    let mut xml = String::new();
    part.take(MAX_DOCX_XML_BYTES + 1)
        .read_to_string(&mut xml)
        .map_err(|e| format!("not a readable DOCX: {e}"))?;
    if xml.len() as u64 > MAX_DOCX_XML_BYTES {
        return Err(too_large());
    }
    let sections = docx_paragraphs(&xml).map_err(|e| format!("not a readable DOCX: {e}"))?;
    Ok(Extracted {
        format: Format::Docx,
        encoding: None,
        title: None,
        sections,
    })
}

fn docx_paragraphs(xml: &str) -> Result<Vec<Section>, quick_xml::Error> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut outline = Outline::default();
    let (mut text, mut level, mut in_text) = (String::new(), None::<u8>, false);
    loop {
        match reader.read_event()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"p" => {
                text.clear();
                level = None;
                in_text = false;
            }
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"t" => in_text = true,
                b"tab" => text.push('\t'),
                b"br" | b"cr" => text.push('\n'),
                b"pStyle" => level = level.or(attribute(&e, b"val").and_then(|v| style_level(&v))),
                b"outlineLvl" => {
                    level = level.or(attribute(&e, b"val")
                        .and_then(|v| v.parse::<u8>().ok())
                        .filter(|l| *l < 9)
                        .map(|l| l + 1))
                }
                _ => {}
            },
            Event::Text(t) if in_text => text.push_str(&t.xml_content()?),
            Event::GeneralRef(r) if in_text => text.push_str(&general_ref(&r)?),
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => match level {
                    Some(level) => outline.heading(level, &text),
                    None => outline.paragraph(&text),
                },
                b"tc" => text.push('\t'),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(outline.finish())
}

fn attribute(e: &quick_xml::events::BytesStart<'_>, local: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// `Heading2` → 2, `Title` → 1; other styles are body text.
fn style_level(style: &str) -> Option<u8> {
    let lower = style.to_ascii_lowercase();
    if lower == "title" {
        return Some(1);
    }
    lower
        .strip_prefix("heading")
        .and_then(|n| n.trim().parse::<u8>().ok())
        .filter(|n| (1..=9).contains(n))
}

fn general_ref(r: &quick_xml::events::BytesRef<'_>) -> Result<String, quick_xml::Error> {
    if let Some(c) = r.resolve_char_ref()? {
        return Ok(c.to_string());
    }
    let name = r.decode()?;
    Ok(quick_xml::escape::resolve_predefined_entity(&name)
        .unwrap_or_default()
        .to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_magic_bytes_then_extensions() {
        assert_eq!(format_of("x.bin", b"%PDF-1.4"), Some(Format::Pdf));
        assert_eq!(format_of("notes.docx", b"PK\x03\x04"), Some(Format::Docx));
        assert_eq!(format_of("sheet.xlsx", b"PK\x03\x04"), None);
        assert_eq!(format_of("a/b/Outline.MD", b"#"), Some(Format::Markdown));
        assert_eq!(format_of("scene.fountain", b""), Some(Format::Text));
        assert_eq!(format_of("photo.png", b"\x89PNG"), None);
        assert_eq!(format_of(".env", b""), Some(Format::Text));
        assert!(!is_supported_name("photo.jpeg"));
        assert!(is_supported_name("report.PDF"));
    }

    #[test]
    fn markdown_sections_follow_headings_but_not_code() {
        let text = "Intro line.\n\n# Act One\n\nA stranger arrives.\n\n## The Projectionist\n\n```sh\n# not a \
                    heading\n```\n\n# Act Two\n## Scene\n\nThe end.\n";
        let sections = markdown(text);
        let headings: Vec<_> = sections.iter().map(|s| s.heading.as_deref()).collect();
        assert_eq!(
            headings,
            [
                None,
                Some("Act One"),
                Some("Act One > The Projectionist"),
                Some("Act Two > Scene")
            ]
        );
        assert!(sections[2].text.contains("# not a heading"), "{sections:?}");
        assert!(sections[1].text.starts_with("# Act One\n\nA stranger"), "{sections:?}");
        assert!(sections[3].text.starts_with("# Act Two\n\n## Scene"), "{sections:?}");
    }

    #[test]
    fn html_keeps_the_main_text_only() {
        let page = "<html><head><title> The  Fair </title><script>var x='SCRIPT';</script><style>p{}</style>\
                    </head><body><nav>NAV</nav><header>SITE</header><h1>Fair</h1><p>Boats &amp; \
                    <b>lanterns</b> drift.</p><div hidden>HIDDEN</div><table><tr><td>Cast</td><td>Hale</td></tr>\
                    </table><h2>Night</h2><p>Fireworks.<br>Green.</p><footer>FOOT</footer></body></html>";
        let (title, sections) = html(page);
        assert_eq!(title.as_deref(), Some("The Fair"));
        let all: String = sections.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join("|");
        assert_eq!(
            all,
            "Fair\n\nBoats & lanterns drift.\n\nCast Hale|Night\n\nFireworks.\nGreen."
        );
        assert_eq!(sections[1].heading.as_deref(), Some("Fair > Night"));
    }

    #[test]
    fn docx_paragraphs_headings_and_tables() {
        let xml = r#"<w:document xmlns:w="w"><w:body>
            <w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Rain</w:t></w:r></w:p>
            <w:p><w:r><w:t xml:space="preserve">The detective </w:t></w:r><w:r><w:t>waits &amp; smokes.</w:t></w:r></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>Cast</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Hale</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
            <w:p><w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r><w:t>Market</w:t></w:r></w:p>
            <w:p><w:r><w:t>Lanterns.</w:t></w:r></w:p>
            </w:body></w:document>"#;
        let sections = docx_paragraphs(xml).unwrap();
        assert_eq!(sections.len(), 2, "{sections:?}");
        assert_eq!(
            sections[0].text,
            "Rain\n\nThe detective waits & smokes.\n\nCast\n\nHale"
        );
        assert_eq!(sections[1].heading.as_deref(), Some("Rain > Market"));
    }

    /// A Word file whose document part inflates past the limit (a zip bomb:
    /// 80 MiB of one character in a few hundred KiB) is refused, reading no
    /// more than the limit.
    #[test]
    fn a_docx_bomb_is_refused_at_the_limit() {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("word/document.xml", options).unwrap();
        let block = vec![b'a'; 1 << 20];
        for _ in 0..80 {
            zip.write_all(&block).unwrap();
        }
        let bytes = zip.finish().unwrap().into_inner();
        assert!(bytes.len() < 1 << 20, "{} bytes", bytes.len());
        let started = std::time::Instant::now();
        let err = extract("bomb.docx", &bytes).unwrap_err();
        assert!(err.contains("larger than 64 MiB"), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn extraction_runs_two_at_a_time() {
        let runs: Vec<_> = (0..6)
            .map(|i| tokio::spawn(extract_bounded(format!("n{i}.md"), b"# Title\n\nBody.".to_vec())))
            .collect();
        for run in runs {
            assert_eq!(run.await.unwrap().unwrap().sections.len(), 1);
        }
        assert_eq!(EXTRACTIONS.available_permits(), 2);
    }

    #[test]
    fn unreadable_files_say_why() {
        assert!(
            extract("a.pdf", b"%PDF-1.4 garbage")
                .unwrap_err()
                .contains("not a readable PDF")
        );
        assert!(
            extract("a.docx", b"PK\x03\x04 nope")
                .unwrap_err()
                .contains("not a readable DOCX")
        );
        assert_eq!(
            extract("a.png", b"\x89PNG").unwrap_err(),
            "unsupported file type (.png)"
        );
    }
}
