"""Chinese word segmentation for the library's full-text index (rjieba, the Rust port of jieba).

Both databases index the same segmented text (words joined by spaces), so SQLite FTS5 and PostgreSQL
`tsvector` see the same terms and rank alike. The query is segmented the same way; anything a person may
type (control characters, FTS operators, quotes, 10 KB of text) becomes plain words, never syntax.
"""

from __future__ import annotations

import unicodedata

import rjieba

MAX_QUERY_CHARS = 200  # what a person types into a search box; the rest is cut, never an error
MAX_QUERY_TERMS = 12
# Function words and characters that carry no topic (有理数的加法 = 有理数加法).
STOPWORDS = frozenset("的 之 与 和 及 了 是 在 怎么 怎样 如何 一节 课 节 讲 教 学 上课".split())


def _clean(text: str) -> str:
    """Lower case; every control, punctuation or symbol character becomes a space."""
    out = []
    prev = ""
    for ch in unicodedata.normalize("NFKC", text).lower():
        kind = unicodedata.category(ch)[0]
        if kind not in "LN":
            ch, kind = " ", ""
        elif prev and kind != prev and (ch.isascii() or out[-1].isascii()):
            out.append(" ")  # unit3 → unit 3, as the index has it
        out.append(ch)
        prev = kind
    return "".join(out)


def words(text: str) -> list[str]:
    """Search-mode segmentation (long words and their parts: 加减法 → 加减, 减法, 加减法), no stopwords."""
    out = []
    for part in _clean(text).split():
        for w in rjieba.cut_for_search(part, True):
            w = w.strip()
            if w and w not in STOPWORDS:
                out.append(w)
    return out


def index_text(text: str) -> str:
    """What goes into the index column: the segmented words joined by spaces."""
    return " ".join(words(text))


def query_terms(text: str) -> list[str]:
    """The distinct words of a query, at most MAX_QUERY_TERMS, in the order typed."""
    return list(dict.fromkeys(words(text[: MAX_QUERY_CHARS * 4])[: MAX_QUERY_TERMS * 4]))[:MAX_QUERY_TERMS]


def squeeze(text: str) -> str:
    """The query as one run of characters without spaces, punctuation or particles (for naming tests)."""
    return "".join(c for c in _clean(text) if not c.isspace() and c not in "的之与和及")
