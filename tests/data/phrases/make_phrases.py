#!/usr/bin/env python3
"""Build tests/data/phrases/phrases.json: a labelled keyword-search test set made
from real public-domain text (Tang poems in Chinese, Shakespeare's Macbeth in
English).  Deterministic (fixed seed), Python 3.11, standard library only.

Usage:
    python3 make_phrases.py [SOURCE_DIR] [OUT_FILE]

The source files are not committed: extract them from the named commits
(`git show <commit>:<path>` in a clone of each repo).  SOURCE_DIR defaults to
./source next to this script, OUT_FILE to ./phrases.json
next to this script.  SOURCE_DIR must hold three files, byte-identical copies of
the upstream files below (their git blob ids are checked before anything is
built; pass --no-verify to skip the check):

  poet.tang.0.json     repo chinese-poetry/chinese-poetry (https://github.com/chinese-poetry/chinese-poetry)
                       path 全唐诗/poet.tang.0.json, commit 99ebbef7e1345c0985c44b9fd96a3f9e776f117b
                       blob 6bf7e34b40b86e14edb21ae26c28d13b6c59a0a8   (408,405 bytes)
  poet.tang.3000.json  same repo and commit, path 全唐诗/poet.tang.3000.json
                       blob 79a8e48f3aec52ef1da182b3c4d9b4dcf410e928   (453,811 bytes)
                       (chosen over poet.tang.1000.json because it holds Li Qiao's
                       single-object poems, i.e. one-character titles such as 雲, 風, 琴)
  macbeth.txt          repo bbbbdragon/macbeth (https://github.com/bbbbdragon/macbeth)
                       path macbeth.txt, commit 4338872772971f456fbefee34f512e3c3e2495f8
                       (unchanged at a169a7f84f98013a86f3a0fd18f017eb4062c16d)
                       blob f3f038a128b1f1b6f0ba3e7f1d9ec54b5b372c97   (103,745 bytes)
                       The repo has no licence file; the text is evidently the Project
                       Gutenberg eBook #1533 transcription of Macbeth (its layout and
                       spelling), with the Gutenberg header/footer, the contents list
                       and the first "ACT I" heading cut off, so the identification is
                       by content, not by a header.  Apostrophes are U+2019 (’) only.

Licences: the chinese-poetry collection is MIT-licensed (Copyright (c) 2016
JackeyGao); the poems themselves (Quan Tangshi, compiled 1705) are in the public
domain.  Macbeth (Shakespeare, 1623 Folio) is in the public domain; the Gutenberg
transcription is public domain in the USA.

The Chinese text is used exactly as the repo stores it: TRADITIONAL characters
(the repo has no simplified version of 全唐诗).

Documents
  zh: one per poem, in file order (poet.tang.0 then poet.tang.3000); title = the
      poem title, content = its paragraphs joined with "\\n".  Poems with an empty
      title, empty content or content longer than 400 characters are skipped,
      and so is a poem whose content repeats an earlier one's (the upstream
      data holds some twice; a workspace stores a chunk's text once).
  en: the play is cut into blocks at speech (blank-line) boundaries inside one
      scene, each 400-900 characters; a speech longer than 500 characters is
      first cut at line ends (a long prose line at sentence ends) into pieces of
      about 320 characters.  The "ACT n" heading lines are dropped (the title
      carries them).  title = "Macbeth Act <roman> Scene <n> (<k>)".

Labelling (exact containment, independent of any search engine), see normalise():
  span / stopwords / apostrophe: relevant = documents whose normalised title OR
      normalised content (checked separately) contains the normalised query; for
      English the match must not start or end inside a word (neighbouring
      characters must be absent or outside [0-9a-z]); for Chinese plain substring.
  two_spans: "A B" -> documents containing both A and B (each as above).
  title: documents whose normalised title equals the normalised query.
Only queries with 1..10 relevant documents are kept; queries are unique after
normalisation.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
import sys
from collections import Counter
from pathlib import Path

SEED = 1533  # Gutenberg's eBook number for Macbeth; any fixed value would do

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE / "source"
DEFAULT_OUT = HERE / "phrases.json"

ZH_FILES = [
    ("poet.tang.0.json", "6bf7e34b40b86e14edb21ae26c28d13b6c59a0a8"),
    ("poet.tang.3000.json", "79a8e48f3aec52ef1da182b3c4d9b4dcf410e928"),
]
EN_FILE = ("macbeth.txt", "f3f038a128b1f1b6f0ba3e7f1d9ec54b5b372c97")

ZH_MAX_CONTENT = 400
EN_MIN_BLOCK, EN_MAX_BLOCK = 400, 900
EN_LONG_SPEECH, EN_PIECE = 500, 320  # speeches longer than this are cut at line ends
MAX_RELEVANT = 10

# Query quotas.
ZH_SPAN_RARE = 20  # two-character spans that occur in 1-3 poems
# (how many, at least this many relevant documents): the first phase asks for
# queries with several relevant documents, so that not nearly every query has one.
ZH_SPAN_OTHER = [(30, 2), (60, 1)]
ZH_TWO_SPANS = [(8, 2), (32, 1)]
ZH_TITLE_SHARED = 10  # titles shared by 2..10 poems
ZH_TITLE_ONE_CHAR = 4
ZH_TITLE_UNIQUE = 36
EN_SPAN = [(30, 2), (70, 1)]
EN_STOPWORDS = [(10, 2), (15, 1)]
EN_APOSTROPHE = [(8, 2), (17, 1)]

ABOUT = (
    "Keyword-search quality fixture built by tests/data/phrases/make_phrases.py "
    "(seed {seed}) from real public-domain text. "
    "Chinese (zh-*): {nzh} Tang poems, traditional characters as stored, from "
    "github.com/chinese-poetry/chinese-poetry commit 99ebbef7e1345c0985c44b9fd96a3f9e776f117b, "
    "files 全唐诗/poet.tang.0.json and 全唐诗/poet.tang.3000.json (collection MIT licence, "
    "Copyright (c) 2016 JackeyGao; the poems are public domain); title = poem title, content = "
    "paragraphs joined with newline; poems with empty title/content or content over 400 chars "
    "skipped, as are poems repeating an earlier poem's content. English (en-*): {nen} blocks of Shakespeare's Macbeth (public domain), text "
    "of Project Gutenberg eBook #1533 (identified by content; header/footer cut off) as stored in github.com/bbbbdragon/macbeth commit "
    "4338872772971f456fbefee34f512e3c3e2495f8 file macbeth.txt (it uses the typographic "
    "apostrophe U+2019 only), cut at speech boundaries within a scene into 400-900 char blocks (speeches over 500 chars "
    "first cut at line ends); "
    "title = 'Macbeth Act <roman> Scene <n> (<k>)'. "
    "Labels are exact containment, independent of any engine: normalise(s) = lowercase; map "
    "U+2019, U+2018, U+02BC to '; replace every run of whitespace and punctuation (ASCII "
    "punctuation except the apostrophe, U+2000-U+206F except U+2018/U+2019, U+3000-U+303F, "
    "U+FF00-U+FF0F, U+FF1A-U+FF20, U+FF3B-U+FF40, U+FF5B-U+FF65) with one space; trim. "
    "span/stopwords/apostrophe: relevant = docs whose normalised title or normalised content "
    "(checked separately, never across the two) contains the normalised query; English matches "
    "must not start or end inside a word (neighbours absent or not [0-9a-z]); Chinese is a plain "
    "substring. two_spans ('A B', two non-adjacent spans of one poem): docs containing both A "
    "and B. title: docs whose normalised title equals the normalised query. Kinds: zh span = "
    "2-7 character substring of one line (incl. ~20 rare two-character spans found in 1-3 "
    "poems); zh title = exact poem title (incl. titles shared by 2-10 poems and one-character "
    "titles); en span = 2-4 word span with at least one non-stop word and no apostrophe; en "
    "stopwords = span of stop words only; en apostrophe = span containing a word with an "
    "apostrophe, written in the query with the ASCII ' where the text has U+2019. English query "
    "case is varied on purpose. Only queries with 1-10 relevant documents are kept; no two "
    "queries share a normalised form."
)

STOP_WORDS = set(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which
    who whom this that these those am is are was were be been being have has had having do
    does did doing a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very can will just
    should now""".split()
)

# --------------------------------------------------------------------------- normalise

APOSTROPHES = {"\u2019": "'", "\u2018": "'", "\u02bc": "'"}
ASCII_PUNCT = set(string.punctuation) - {"'"}
ALNUM = set(string.digits + string.ascii_lowercase)


def is_sep(c: str) -> bool:
    """Whitespace or punctuation in the sense of the labelling rules."""
    if c.isspace() or c in ASCII_PUNCT:
        return True
    o = ord(c)
    return (
        (0x2000 <= o <= 0x206F and c not in "\u2018\u2019")
        or 0x3000 <= o <= 0x303F
        or 0xFF00 <= o <= 0xFF0F
        or 0xFF1A <= o <= 0xFF20
        or 0xFF3B <= o <= 0xFF40
        or 0xFF5B <= o <= 0xFF65
    )


def normalise(s: str) -> str:
    out: list[str] = []
    pending_space = False
    for c in s.lower():
        c = APOSTROPHES.get(c, c)
        if is_sep(c):
            pending_space = True
            continue
        if pending_space and out:
            out.append(" ")
        pending_space = False
        out.append(c)
    return "".join(out)


def contains(hay: str, needle: str, lang: str) -> bool:
    """needle and hay are normalised; English needs word boundaries."""
    if not needle:
        return False
    if lang == "zh":
        return needle in hay
    start = 0
    while True:
        i = hay.find(needle, start)
        if i < 0:
            return False
        j = i + len(needle)
        if (i == 0 or hay[i - 1] not in ALNUM) and (j == len(hay) or hay[j] not in ALNUM):
            return True
        start = i + 1


# --------------------------------------------------------------------------- sources


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def read_source(src: Path, name: str, blob: str, verify: bool) -> bytes:
    data = (src / name).read_bytes()
    if verify and git_blob_id(data) != blob:
        sys.exit(f"{src / name}: git blob id {git_blob_id(data)} != expected {blob}; "
                 "re-fetch the file named in the header of this script (or pass --no-verify)")
    return data


def load_poems(src: Path, verify: bool) -> list[dict]:
    docs = []
    seen: set[str] = set()
    for name, blob in ZH_FILES:
        for p in json.loads(read_source(src, name, blob, verify).decode("utf-8")):
            title = (p.get("title") or "").strip()
            content = "\n".join(p.get("paragraphs") or []).strip()
            if not title or not content or len(content) > ZH_MAX_CONTENT or content in seen:
                continue
            seen.add(content)
            docs.append({"language": "zh", "title": title, "content": content})
    for i, d in enumerate(docs, 1):
        d["key"] = f"zh-{i:04d}"
    return docs


ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8}


def split_long(par: str) -> list[str]:
    """Split one long speech at line ends (a very long prose line at sentence ends)
    into pieces of at most EN_PIECE characters where possible."""
    units: list[str] = []
    for line in par.split("\n"):
        if len(line) <= EN_PIECE:
            units.append(line)
            continue
        cur = ""
        for k, ch in enumerate(line):
            cur += ch
            if ch in ".;:!?" and k + 1 < len(line) and line[k + 1] == " " and len(cur) >= 200:
                units.append(cur)
                cur = ""
        if cur.strip():
            units.append(cur.strip())
    pieces: list[str] = []
    cur = ""
    for u in units:
        u = u.lstrip(" ")
        if cur and len(cur) + 1 + len(u) > EN_PIECE:
            pieces.append(cur)
            cur = u
        else:
            cur = u if not cur else cur + "\n" + u
    if cur:
        pieces.append(cur)
    return pieces


def pack(units: list[str]) -> list[str]:
    """Greedy packing of one scene's units into blocks of EN_MIN_BLOCK..EN_MAX_BLOCK
    characters; a short tail is merged into (or rebalanced with) the block before."""
    blocks: list[list[str]] = []
    cur: list[str] = []

    def size(us: list[str]) -> int:
        return sum(map(len, us)) + 2 * max(len(us) - 1, 0)

    for u in units:
        if cur and size(cur + [u]) > EN_MAX_BLOCK:
            blocks.append(cur)
            cur = []
        cur.append(u)
        if size(cur) >= EN_MIN_BLOCK:
            blocks.append(cur)
            cur = []
    if cur:
        if not blocks:
            blocks.append(cur)
        else:
            merged = blocks.pop() + cur
            if size(merged) <= EN_MAX_BLOCK:
                blocks.append(merged)
            else:  # cut the merged units where the smaller half is largest
                best = max(range(1, len(merged)),
                           key=lambda i: min(size(merged[:i]), size(merged[i:])))
                blocks.extend([merged[:best], merged[best:]])
    return ["\n\n".join(b) for b in blocks]


def load_play(src: Path, verify: bool) -> list[dict]:
    text = read_source(src, *EN_FILE, verify).decode("utf-8").replace("\r\n", "\n")
    # Group paragraphs (blank-line separated) by scene.  The file starts inside Act I.
    scenes: list[tuple[str, int, list[str]]] = []
    act = "I"
    for par in text.split("\n\n"):
        par = par.strip("\n")
        if not par.strip():
            continue
        lines = par.split("\n")
        if lines[0].startswith("ACT "):
            act = lines[0].split()[1]
            lines = lines[1:]
            par = "\n".join(lines)
        if lines and lines[0].startswith("SCENE "):
            num = ROMAN[lines[0].split()[1].rstrip(".")]
            scenes.append((act, num, []))
        if not scenes:
            raise ValueError("text before the first SCENE heading")
        scenes[-1][2].append(par)

    docs = []
    for act, num, pars in scenes:
        units: list[str] = []
        for par in pars:
            units.extend(split_long(par) if len(par) > EN_LONG_SPEECH else [par])
        blocks = pack(units)
        for k, b in enumerate(blocks, 1):
            docs.append({"language": "en", "title": f"Macbeth Act {act} Scene {num} ({k})",
                         "content": b})
    for i, d in enumerate(docs, 1):
        d["key"] = f"en-{i:04d}"
    return docs


# --------------------------------------------------------------------------- labelling


class Labeller:
    def __init__(self, docs: list[dict]):
        self.docs = docs
        self.norm = [(d["key"], normalise(d["title"]), normalise(d["content"])) for d in docs]

    def span(self, query: str, lang: str) -> list[str]:
        q = normalise(query)
        return [k for k, t, c in self.norm if contains(t, q, lang) or contains(c, q, lang)]

    def two_spans(self, a: str, b: str, lang: str) -> list[str]:
        ra = set(self.span(a, lang))
        return [k for k in self.span(b, lang) if k in ra]

    def title(self, query: str) -> list[str]:
        q = normalise(query)
        return [k for k, t, _ in self.norm if t == q]

    def label(self, q: dict) -> list[str]:
        if q["kind"] == "title":
            return self.title(q["query"])
        if q["kind"] == "two_spans":
            a, b = q["query"].split(" ")
            return self.two_spans(a, b, q["language"])
        return self.span(q["query"], q["language"])


class QuerySet:
    def __init__(self, labeller: Labeller):
        self.lab = labeller
        self.queries: list[dict] = []
        self.seen: set[str] = set()

    def try_add(self, query: str, lang: str, kind: str, min_rel: int = 1) -> bool:
        n = normalise(query)
        if not n or n in self.seen:
            return False
        q = {"query": query, "language": lang, "kind": kind, "relevant": []}
        rel = self.lab.label(q)
        if not max(1, min_rel) <= len(rel) <= MAX_RELEVANT:
            return False
        q["relevant"] = rel
        self.seen.add(n)
        self.queries.append(q)
        return True


# --------------------------------------------------------------------------- Chinese


def is_han(c: str) -> bool:
    return "\u4e00" <= c <= "\u9fff"


def han_runs(text: str) -> list[str]:
    """Maximal runs of CJK ideographs (U+4E00-U+9FFF) in one line."""
    runs, cur = [], ""
    for c in text:
        if is_han(c):
            cur += c
        else:
            if cur:
                runs.append(cur)
            cur = ""
    if cur:
        runs.append(cur)
    return runs


def poem_runs(doc: dict) -> list[tuple[int, int, str]]:
    """(line number, run number, run) for every han run of the content."""
    out = []
    for li, line in enumerate(doc["content"].split("\n")):
        for ri, run in enumerate(han_runs(line)):
            out.append((li, ri, run))
    return out


def two_spans(qs: "QuerySet", zh: list[dict], rng: random.Random, quota: int, min_rel: int) -> int:
    added, tries = 0, 0
    while added < quota and tries < 200000:
        tries += 1
        d = rng.choice(zh)
        runs = poem_runs(d)
        if len(runs) < 2:
            continue
        (_, _, a_run), (_, _, b_run) = sorted(rng.sample(runs, 2))
        na, nb = rng.randint(2, 5), rng.randint(2, 5)
        if len(a_run) < na or len(b_run) < nb:
            continue
        ia = rng.randrange(len(a_run) - na + 1)
        ib = rng.randrange(len(b_run) - nb + 1)
        a, b = a_run[ia:ia + na], b_run[ib:ib + nb]
        if a in b or b in a:
            continue
        # non-adjacent: the pair must not read as one phrase once punctuation is dropped
        if normalise(a + " " + b) in normalise(d["content"]):
            continue
        added += qs.try_add(f"{a} {b}", "zh", "two_spans", min_rel)
    return added


def zh_queries(qs: QuerySet, docs: list[dict], rng: random.Random) -> None:
    zh = [d for d in docs if d["language"] == "zh"]

    # 1. rare two-character spans (1..3 poems)
    df: Counter[str] = Counter()
    for k, t, c in qs.lab.norm:
        if not k.startswith("zh-"):
            continue
        grams = {s[i:i + 2] for s in (t, c) for i in range(len(s) - 1)}
        df.update(g for g in grams if all(map(is_han, g)))
    rare = sorted({r[i:i + 2] for d in zh for _, _, r in poem_runs(d)
                   for i in range(len(r) - 1) if 1 <= df[r[i:i + 2]] <= 3})
    rng.shuffle(rare)
    added = 0
    for g in rare:
        if added == ZH_SPAN_RARE:
            break
        added += qs.try_add(g, "zh", "span")

    # 2. other spans of 2..7 characters from one line
    for quota, min_rel in ZH_SPAN_OTHER:
        added, tries = 0, 0
        while added < quota and tries < 200000:
            tries += 1
            d = rng.choice(zh)
            runs = [r for _, _, r in poem_runs(d)]
            n = rng.choices([2, 3, 4, 5, 6, 7], weights=[1, 3, 3, 3, 2, 2])[0]
            runs = [r for r in runs if len(r) >= n]
            if not runs:
                continue
            r = rng.choice(runs)
            i = rng.randrange(len(r) - n + 1)
            added += qs.try_add(r[i:i + n], "zh", "span", min_rel)

    # 3. two non-adjacent spans of 2..5 characters from the same poem
    for quota, min_rel in ZH_TWO_SPANS:
        two_spans(qs, zh, rng, quota, min_rel)

    # 4. titles
    counts = Counter(normalise(d["title"]) for d in zh)
    first_title: dict[str, str] = {}
    for d in zh:
        first_title.setdefault(normalise(d["title"]), d["title"])

    def clean(t: str) -> bool:
        return all(is_han(c) or c == " " for c in t)

    shared = sorted(t for t, n in counts.items() if 2 <= n <= MAX_RELEVANT and clean(t) and len(t) > 1)
    one = sorted(t for t in counts if len(t) == 1 and clean(t))
    unique = sorted(t for t, n in counts.items() if n == 1 and len(t) > 1 and clean(t))
    for pool, quota in ((shared, ZH_TITLE_SHARED), (one, ZH_TITLE_ONE_CHAR),
                        (unique, ZH_TITLE_UNIQUE)):
        pool = pool[:]
        rng.shuffle(pool)
        added = 0
        for t in pool:
            if added == quota:
                break
            added += qs.try_add(first_title[t], "zh", "title")


# --------------------------------------------------------------------------- English


def en_tokens(content: str) -> list[tuple[str, str, bool]]:
    """(token, the separator text before it, token is on a speaker/stage line).

    Tokens are maximal runs of non-separator characters, exactly the words that
    normalise() keeps."""
    out = []
    line_starts = [0]
    for i, c in enumerate(content):
        if c == "\n":
            line_starts.append(i + 1)
    lines = content.split("\n")

    def line_of(pos: int) -> str:
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lines[lo]

    i, n, prev_end = 0, len(content), 0
    while i < n:
        c = APOSTROPHES.get(content[i], content[i])
        if is_sep(c):
            i += 1
            continue
        j = i
        while j < n and not is_sep(APOSTROPHES.get(content[j], content[j])):
            j += 1
        line = line_of(i)
        skip = line.isupper() or line.lstrip().startswith("[") or line.startswith("SCENE ")
        out.append((content[i:j], content[prev_end:i], skip))
        prev_end = j
        i = j
    return out


def vary_case(words: list[str], rng: random.Random) -> list[str]:
    r = rng.random()
    if r < 0.5:
        return words
    if r < 0.75:
        return [w.lower() for w in words]
    if r < 0.95:
        w0 = words[0]
        if w0[:1].isupper():
            return [w.lower() for w in words]
        return [w0[:1].upper() + w0[1:]] + words[1:]
    return [w.upper() for w in words]


def en_queries(qs: QuerySet, docs: list[dict], rng: random.Random) -> None:
    en = [d for d in docs if d["language"] == "en"]
    toks = {d["key"]: en_tokens(d["content"]) for d in en}

    def plain(w: str) -> bool:
        return all(c.isascii() and c.isalpha() for c in w)

    def inner_apostrophe(w: str) -> bool:
        w = w.replace("\u2019", "'")
        return ("'" in w and w[0] != "'" and w[-1] != "'"
                and all(c.isascii() and (c.isalpha() or c == "'") for c in w))

    def sample(kind: str, lengths: list[int], weights: list[int], ok) -> list[str] | None:
        d = rng.choice(en)
        t = toks[d["key"]]
        n = rng.choices(lengths, weights=weights)[0]
        if len(t) < n:
            return None
        i = rng.randrange(len(t) - n + 1)
        span = t[i:i + n]
        if any(skip for _, _, skip in span):
            return None
        if any(not sep.isspace() for _, sep, _ in span[1:]):  # only whitespace between words
            return None
        words = [w for w, _, _ in span]
        return words if ok(words) else None

    plans = [
        ("span", EN_SPAN, [2, 3, 4], [3, 4, 2],
         lambda ws: all(map(plain, ws)) and any(w.lower() not in STOP_WORDS for w in ws)),
        ("stopwords", EN_STOPWORDS, [2, 3, 4], [1, 4, 2],
         lambda ws: all(map(plain, ws)) and all(w.lower() in STOP_WORDS for w in ws)),
        ("apostrophe", EN_APOSTROPHE, [2, 3], [3, 2],
         lambda ws: any(map(inner_apostrophe, ws))
         and all(plain(w) or inner_apostrophe(w) for w in ws)),
    ]
    for kind, phases, lengths, weights, ok in plans:
        for quota, min_rel in phases:
            added, tries = 0, 0
            while added < quota and tries < 200000:
                tries += 1
                words = sample(kind, lengths, weights, ok)
                if words is None:
                    continue
                # the text has U+2019 only; the query uses the ASCII apostrophe
                words = [w.replace("\u2019", "'") for w in vary_case(words, rng)]
                added += qs.try_add(" ".join(words), "en", kind, min_rel)


# --------------------------------------------------------------------------- output


def dump(doc: dict) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(", ", ": "))


def write_json(path: Path, about: str, docs: list[dict], queries: list[dict]) -> None:
    parts = ["{\n", f'"about": {json.dumps(about, ensure_ascii=False)},\n', '"documents": [\n']
    parts.append(",\n".join(dump({k: d[k] for k in ("key", "language", "title", "content")})
                            for d in docs))
    parts.append('\n],\n"queries": [\n')
    parts.append(",\n".join(dump(q) for q in queries))
    parts.append("\n]\n}\n")
    path.write_text("".join(parts), encoding="utf-8")


def validate(path: Path) -> dict:
    data = json.loads(path.read_text(encoding="utf-8"))
    keys = [d["key"] for d in data["documents"]]
    assert len(keys) == len(set(keys)), "duplicate document keys"
    key_set = set(keys)
    lab = Labeller(data["documents"])
    seen = set()
    for q in data["queries"]:
        n = normalise(q["query"])
        assert n not in seen, f"duplicate query {q['query']!r}"
        seen.add(n)
        assert q["language"] in ("zh", "en") and q["kind"] in (
            "span", "two_spans", "title", "stopwords", "apostrophe")
        assert 1 <= len(q["relevant"]) <= MAX_RELEVANT, q
        assert all(k in key_set for k in q["relevant"]), q
        assert lab.label(q) == q["relevant"], f"label mismatch for {q['query']!r}"
    return data


def summary(data: dict, path: Path) -> None:
    docs, queries = data["documents"], data["queries"]
    print(f"documents: {len(docs)}  " + "  ".join(
        f"{k}={v}" for k, v in sorted(Counter(d["language"] for d in docs).items())))
    en_len = [len(d["content"]) for d in docs if d["language"] == "en"]
    if en_len:
        print(f"  en block length: min {min(en_len)} max {max(en_len)} "
              f"mean {sum(en_len) / len(en_len):.0f}")
    print(f"queries: {len(queries)}")
    for (lang, kind), n in sorted(Counter((q["language"], q["kind"]) for q in queries).items()):
        print(f"  {lang:2} {kind:10} {n}")
    for lang in ("zh", "en"):
        h = Counter(len(q["relevant"]) for q in queries if q["language"] == lang)
        print(f"relevant-count histogram {lang}: " + " ".join(f"{k}:{h[k]}" for k in sorted(h)))
    print(f"{path}: {path.stat().st_size:,} bytes")


def main(argv: list[str]) -> None:
    verify = "--no-verify" not in argv
    args = [a for a in argv if a != "--no-verify"]
    src = Path(args[0]) if args else DEFAULT_SOURCE
    out = Path(args[1]) if len(args) > 1 else DEFAULT_OUT

    zh = load_poems(src, verify)
    en = load_play(src, verify)
    docs = zh + en
    rng = random.Random(SEED)
    qs = QuerySet(Labeller(docs))
    zh_queries(qs, docs, rng)
    en_queries(qs, docs, rng)

    write_json(out, ABOUT.format(seed=SEED, nzh=len(zh), nen=len(en)), docs, qs.queries)
    summary(validate(out), out)


if __name__ == "__main__":
    main(sys.argv[1:])
