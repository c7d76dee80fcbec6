#!/usr/bin/env python3
"""Regenerate the document-ingest test fixtures in this folder.

Makes, next to this script:

* lighthouse.pdf  - two-page PDF with a real text layer (reportlab, Helvetica)
* scanned.pdf     - image-only PDF: one raster image, no text operators at all
* rain_notes.docx - DOCX with Heading 1/Heading 2, paragraphs and a 1x2 table
* festival.html   - HTML page with nav/header/footer/script/style boilerplate
* outline.md      - Markdown with headings and a fenced code block
* gb18030.txt     - Simplified Chinese text encoded as GB18030 (not valid UTF-8)
* big5.txt        - Traditional Chinese text encoded as Big5
* utf16.txt       - English + Chinese text, UTF-16 LE with a BOM
* tokenizer.json  - small BERT-style WordPiece tokenizer (HuggingFace
                    ``tokenizers``), trained here on a fixed corpus

Output is deterministic where the libraries allow it: reportlab runs with
``invariant=1`` (fixed creation date and document ID), the DOCX core
properties are pinned to a fixed date and its zip entries get a fixed
timestamp. Text files are written as raw bytes with ``\\n`` line endings.
The tokenizer is trained locally on an in-script corpus (no HF hub access);
the continuing-subword ("##x") tokens are seeded in sorted order so the
trainer's hash-map order cannot change tie-breaking between merges.

Requirements (Python 3.11):

    pip install reportlab python-docx tokenizers

(Pillow, used to build the raster image for scanned.pdf, is installed as a
dependency of reportlab.)

Usage:

    python3 make_fixtures.py            # writes into this script's folder
    python3 make_fixtures.py OUT_DIR    # writes into OUT_DIR instead
"""

from __future__ import annotations

import datetime as _dt
import io
import sys
import zipfile
from pathlib import Path

FIXED_DATE = _dt.datetime(2024, 1, 1, 0, 0, 0)
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------
# PDF with a text layer
# --------------------------------------------------------------------------
def make_lighthouse_pdf(out: Path) -> None:
    from reportlab.lib.pagesizes import A5
    from reportlab.pdfgen import canvas

    path = out / "lighthouse.pdf"
    c = canvas.Canvas(str(path), pagesize=A5, invariant=1, pageCompression=0)
    c.setTitle("The Lighthouse Keeper")
    c.setAuthor("ingest fixtures")
    c.setSubject("test fixture")
    c.setCreator("make_fixtures.py")
    width, height = A5

    def paragraph(lines: list[str], y: float) -> None:
        text = c.beginText(40, y)
        text.setFont("Helvetica", 11)
        text.setLeading(15)
        for line in lines:
            text.textLine(line)
        c.drawText(text)

    # Page 1
    c.setFont("Helvetica-Bold", 18)
    c.drawString(40, height - 60, "The Lighthouse Keeper")
    paragraph(
        [
            "Every night of the winter storms,",
            "the brass lantern flickered above the harbour",
            "while the old keeper wound the clockwork by hand.",
        ],
        height - 100,
    )
    c.showPage()

    # Page 2
    paragraph(
        [
            "When the fog finally lifted,",
            "Marguerite counted the ships until dawn",
            "and wrote each name in the keeper's logbook.",
        ],
        height - 60,
    )
    c.showPage()
    c.save()


# --------------------------------------------------------------------------
# Image-only ("scanned") PDF
# --------------------------------------------------------------------------
def make_scanned_pdf(out: Path) -> None:
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A5
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    # 200x100 grayscale "scan": light paper with dark bars that look like
    # lines of print. Pure pixels -- no glyphs, no text operators.
    img = Image.new("L", (200, 100), 235)
    draw = ImageDraw.Draw(img)
    draw.rectangle([0, 0, 199, 99], outline=160)
    for row, length in enumerate((170, 150, 165, 120, 160, 90)):
        y = 12 + row * 14
        draw.rectangle([15, y, 15 + length, y + 5], fill=60)

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    buf.seek(0)

    class ImageOnlyCanvas(canvas.Canvas):
        # reportlab's default page preamble contains "BT /F1 12 Tf ... ET"
        # (an empty text object selecting Helvetica) and registers a font
        # resource. Drop it so the file has no text operators and no fonts.
        def _make_preamble(self) -> None:
            self._preamble = "1 0 0 1 0 0 cm"

    path = out / "scanned.pdf"
    c = ImageOnlyCanvas(str(path), pagesize=A5, invariant=1)
    c.setCreator("make_fixtures.py")
    width, height = A5
    c.drawImage(ImageReader(buf), 20, height - 220, width=width - 40,
                height=(width - 40) / 2)
    c.showPage()
    c.save()


# --------------------------------------------------------------------------
# DOCX
# --------------------------------------------------------------------------
def _normalize_zip(path: Path) -> None:
    """Rewrite a zip with fixed entry timestamps so output is reproducible."""
    with zipfile.ZipFile(path) as zin:
        entries = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0o644 << 16
            zout.writestr(info, data)


_DROP_RELTYPES = (
    "/stylesWithEffects",  # Word 2010 duplicate of styles.xml (~440 KB raw)
    "/customXml",          # empty custom XML item from the template
    "/metadata/thumbnail",  # template preview JPEG
)


def _slim_document(doc) -> None:
    """Drop unneeded template parts and unused styles to keep the file small.

    The python-docx default template carries ~160 style definitions, latent
    style entries, a stylesWithEffects copy and a thumbnail; together they
    push a tiny document past 35 KB. Only the styles actually used (plus the
    defaults and anything they inherit from or link to) are kept.
    """
    from docx.oxml.ns import qn

    for part in (doc.part, doc.part.package):
        for rId, rel in list(part.rels.items()):
            if rel.reltype.endswith(_DROP_RELTYPES):
                part.rels.pop(rId)

    styles = doc.styles.element
    latent = styles.find(qn("w:latentStyles"))
    if latent is not None:
        styles.remove(latent)

    used = {"Heading1", "Heading2", "TableGrid"}
    for el in doc.element.body.iter(qn("w:pStyle"), qn("w:rStyle"), qn("w:tblStyle")):
        used.add(el.get(qn("w:val")))
    by_id = {st.get(qn("w:styleId")): st for st in styles.findall(qn("w:style"))}
    keep = {sid for sid, st in by_id.items() if st.get(qn("w:default")) == "1"}
    keep |= used & by_id.keys()
    todo = list(keep)
    while todo:
        st = by_id[todo.pop()]
        for tag in ("w:basedOn", "w:link", "w:next"):
            ref = st.find(qn(tag))
            if ref is not None and ref.get(qn("w:val")) in by_id:
                sid = ref.get(qn("w:val"))
                if sid not in keep:
                    keep.add(sid)
                    todo.append(sid)
    for sid, st in by_id.items():
        if sid not in keep:
            styles.remove(st)


def make_rain_docx(out: Path) -> None:
    from docx import Document

    doc = Document()
    props = doc.core_properties
    props.title = "Rain Scenes"
    props.author = "ingest fixtures"
    props.last_modified_by = "ingest fixtures"
    props.comments = ""
    props.revision = 1
    props.created = FIXED_DATE
    props.modified = FIXED_DATE
    props.last_printed = FIXED_DATE

    doc.add_heading("Rain Scenes", level=1)
    doc.add_paragraph(
        "At midnight the detective waited beneath the flooded railway bridge, "
        "counting the trains that never came."
    )
    doc.add_heading("Night Market", level=2)
    doc.add_paragraph(
        "Further down the street, lanterns swung over the noodle stalls "
        "as the rain turned to mist."
    )
    table = doc.add_table(rows=1, cols=2)
    table.style = "Table Grid"
    table.cell(0, 0).text = "Cast"
    table.cell(0, 1).text = "Inspector Hale"

    _slim_document(doc)
    path = out / "rain_notes.docx"
    doc.save(str(path))
    _normalize_zip(path)


# --------------------------------------------------------------------------
# HTML / Markdown / encoded text
# --------------------------------------------------------------------------
FESTIVAL_HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Harvest Festival</title>
<style>body{color:red} .secret-style{}</style>
<script>var trackingCode = "SCRIPT_SHOULD_NOT_APPEAR";</script>
</head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About</a> | <a href="/x">NAVIGATION_SHOULD_NOT_APPEAR</a></nav>
<header><p class="site-name">Riverside Gazette</p></header>
<noscript>NOSCRIPT_SHOULD_NOT_APPEAR: please enable JavaScript</noscript>
<main>
<article>
<h1>Harvest Festival</h1>
<p>The village square filled with bread &amp; cider and crème brûlée long before sunset.</p>
<p>After the bells rang, paper boats drifted down the moonlit canal while children ran along the towpath.</p>
<h2>Fireworks</h2>
<p>At midnight the fireworks painted the old tower green.</p>
</article>
</main>
<footer>FOOTER_SHOULD_NOT_APPEAR © 2026</footer>
</body>
</html>
"""

OUTLINE_MD = """\
# Act One

In the first reel, a stranger arrives at the shuttered cinema with a locked suitcase.

## The Projectionist

Nobody knew that reels of silver film were hidden under the stage.

```bash
# not a heading, just a shell comment
ls -la /projection-booth
```

# Act Two

Finally the town gathers for the final screening.
"""

GB18030_TEXT = (
    "江南的雨季总是来得很早。清晨，青石板路上的油纸伞一把接着一把，"
    "像是开在巷子里的花。茶馆还没有开门，老槐树下的说书人已经摆好了桌子，"
    "把惊堂木轻轻放在一旁。他说的是三百年前的旧事：一位书生赶考路过小镇，"
    "在桥头遇见了卖花的姑娘。听故事的人越来越多，有挑着担子的货郎，"
    "有背着书包的孩子，也有撑着伞的老人。雨丝落在瓦檐上，滴答作响，"
    "仿佛在为故事打着拍子。到了中午，说书人讲到最紧要的地方，忽然合上扇子，"
    "笑着说：欲知后事如何，且听下回分解。众人叹了口气，却又舍不得离开，"
    "纷纷约好明天再来。小镇的日子就这样慢慢流淌，像河水一样安静，"
    "又像雨季一样绵长。傍晚时分，炊烟从屋顶升起，河面上的乌篷船亮起了灯，"
    "船家哼着老调子，把一天的疲惫都唱进了夜色里。\n"
)

BIG5_TEXT = (
    "臺北的冬天常常下雨。傍晚時分，街角那家老茶館裡的說書先生"
    "會準時坐到窗邊，先喝一口熱茶，再慢慢打開摺扇。"
    "他講的是三國的故事，從桃園結義一直講到赤壁之戰。"
    "聽眾有退休的老師，也有放學的學生，大家都安靜地坐著，"
    "只聽得見雨打在屋簷上的聲音。每到精彩的地方，他就停下來，"
    "笑著說明天再講。於是，大家約好第二天同一時間再來，"
    "茶館的燈光在雨夜裡顯得格外溫暖。"
    "老闆總是笑著說，只要說書先生還在，這家店就不會關門。\n"
)

UTF16_TEXT = "The ferry leaves at noon. 渡船中午出发。\n"


def make_text_fixtures(out: Path) -> None:
    (out / "festival.html").write_bytes(FESTIVAL_HTML.encode("utf-8"))
    (out / "outline.md").write_bytes(OUTLINE_MD.encode("utf-8"))

    gb = GB18030_TEXT.encode("gb18030")
    try:
        gb.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:  # pragma: no cover - guard for the fixture's purpose
        raise SystemExit("gb18030.txt unexpectedly decodes as UTF-8")
    (out / "gb18030.txt").write_bytes(gb)

    (out / "big5.txt").write_bytes(BIG5_TEXT.encode("big5"))
    # "utf-16-le" does not add a BOM, so prepend U+FEFF explicitly.
    (out / "utf16.txt").write_bytes(("\ufeff" + UTF16_TEXT).encode("utf-16-le"))


# --------------------------------------------------------------------------
# HuggingFace tokenizer.json (BERT-style WordPiece)
# --------------------------------------------------------------------------
# Training corpus: fixed English sentences about film and screenplays plus
# Chinese sentences. BertNormalizer(handle_chinese_chars=True) puts spaces
# around every CJK character, so each one becomes its own pre-token (and its
# own vocabulary entry).
TOKENIZER_CORPUS_EN = [
    "The detective waited in the rain outside the old cinema.",
    "A screenplay tells the story through scenes, action and dialogue.",
    "Every scene heading names the location and the time of day.",
    "The director asked the actors to rehearse the final scene again.",
    "In the first act, the hero leaves the quiet city at night.",
    "The camera slowly follows the detective down the wet street.",
    "She wrote the screenplay in a small room above the theatre.",
    "The producer wanted a shorter film with a happier ending.",
    "Rain fell on the city lights while the music played softly.",
    "The editor cut the long shot into three shorter shots.",
    "Each character needs a clear goal and a reason to act.",
    "The writer described the street market, the lanterns and the noise.",
    "Dialogue should sound natural, but every line must matter.",
    "The cinematographer waited for the light to change at sunset.",
    "Night scenes were filmed on the studio lot with rain machines.",
    "The audience laughed when the detective lost his hat in the wind.",
    "A good story turns on a choice that the hero cannot avoid.",
    "The script supervisor checked that the coffee cup stayed in place.",
    "In the second act, the stranger returns to the tea house.",
    "The storyteller waited for the crowd before he began the tale.",
    "Actors read the script together at a long table in the morning.",
    "The film opens with a wide shot of the harbour at dawn.",
    "Sound designers recorded footsteps, thunder and the ticking clock.",
    "The detective followed the stranger through the crowded station.",
    "Writers often rewrite the opening scene many times.",
    "The lighting was warm inside and cold blue outside the window.",
    "Her character speaks little, but the camera watches her face.",
    "The final screening of the film was held in the old theatre.",
    "A montage shows the seasons changing over the quiet town.",
    "The villain hides the letter inside a book in the library.",
    "At the end of the film, the lights go out and the rain stops.",
    "The festival jury praised the screenplay for its careful structure.",
    "Each page of a screenplay is roughly one minute on screen.",
    "The young director filmed the chase scene in a single take.",
    "Critics wrote that the detective story was dark but beautiful.",
    "The projectionist loaded the reels and waited for the signal.",
]

TOKENIZER_CORPUS_ZH = [
    "侦探在雨夜里等待一个陌生人。",
    "城市的灯光在雨中显得格外温暖。",
    "说书人坐在茶馆里讲一个古老的故事。",
    "这是一部关于侦探的电影。",
    "导演让演员在夜里再拍一次最后的场景。",
    "剧本用场景、动作和对白来讲故事。",
    "雨夜的街道上只有一盏灯还亮着。",
    "人们在电影院里安静地看着银幕。",
    "编剧在书房里写了一整夜的剧本。",
    "侦探说他已经找到了真正的凶手。",
    "茶馆的老板每天早上都会泡一壶热茶。",
    "城市的夜晚总是很长，雨也下个不停。",
    "摄影师等待阳光照进窗户的那一刻。",
    "一个好的故事需要一个清楚的目标。",
    "说书人讲到最紧要的地方忽然停了下来。",
    "观众在黑暗中看见了光。",
    "演员们在早上围着长桌一起读剧本。",
    "电影的第一个镜头是海边的清晨。",
    "侦探跟着陌生人走进了拥挤的车站。",
    "城市里的人都在等待这场雨停下来。",
    "她在剧院楼上的小房间里写完了剧本。",
    "夜里的茶馆里只剩下说书人和一盏灯。",
    "这个人物话不多，但是镜头一直看着她的脸。",
    "电影节的评委称赞这个剧本的结构。",
    "最后一场放映在老电影院里举行。",
    "雨停了，城市的灯光一盏一盏地亮起来。",
    "侦探在书中发现了一封没有寄出的信。",
    "导演在一个镜头里拍完了追逐的场景。",
    "人们说这个故事又黑暗又美丽。",
    "放映员装好了胶片，等待开场的信号。",
    "在第二幕里，陌生人回到了茶馆。",
    "雨夜里，侦探一个人走在城市的街上。",
]


def make_tokenizer_json(out: Path) -> None:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    corpus = TOKENIZER_CORPUS_EN + TOKENIZER_CORPUS_ZH
    normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()

    # Determinism: the WordPiece trainer (its BPE core) gives the "##x"
    # continuing-subword characters ids in the iteration order of a
    # randomly seeded hash map, and merges with equal counts are ordered by
    # token id, so ties (and with them some learned subwords) would change
    # from run to run. Seeding every "##x" up front, in sorted order, fixes
    # their ids; they are passed as trainer special tokens only for that and
    # are plain vocabulary entries in the saved tokenizer (rebuilt below).
    continuing = set()
    for line in corpus:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line)):
            continuing.update(word[1:])
    seeded = ["##" + c for c in sorted(continuing)]

    trainer_tok = Tokenizer(models.WordPiece(unk_token="[UNK]", continuing_subword_prefix="##"))
    trainer_tok.normalizer = normalizer
    trainer_tok.pre_tokenizer = pre_tokenizer
    trainer = trainers.WordPieceTrainer(
        vocab_size=800,
        min_frequency=1,
        show_progress=False,
        special_tokens=specials + seeded,
        continuing_subword_prefix="##",
    )
    trainer_tok.train_from_iterator(corpus, trainer=trainer)
    vocab = trainer_tok.get_vocab(with_added_tokens=False)
    late = [t for t, i in vocab.items() if t.startswith("##") and len(t) == 3 and i >= len(specials) + len(seeded)]
    if late:  # pragma: no cover - a "##x" the seeding missed
        raise SystemExit(f"unseeded continuing-subword tokens: {sorted(late)}")

    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", continuing_subword_prefix="##",
                                     max_input_chars_per_word=100))
    tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(specials)
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[(t, vocab[t]) for t in ("[CLS]", "[SEP]")],
    )
    tok.no_truncation()
    tok.no_padding()
    tok.save(str(out / "tokenizer.json"), pretty=True)

def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    make_lighthouse_pdf(out)
    make_scanned_pdf(out)
    make_rain_docx(out)
    make_text_fixtures(out)
    make_tokenizer_json(out)
    for name in sorted(p.name for p in out.iterdir() if p.is_file()):
        print(f"{(out / name).stat().st_size:>7}  {name}")


if __name__ == "__main__":
    main()
