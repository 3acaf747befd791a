"""Similar topics (相似议题): the same matter raised in several rooms, found by its text.

Chinese has no spaces, so a topic is a bag of character n-grams (bigrams unless asked
for more, see SimilarityIndex), weighted by TF-IDF and compared by cosine. Grams never
span punctuation or spaces. NFKC folds full-width letters and digits; Chinese numerals
before 号/栋/单元/层/楼 and bus routes become digits, so "三号楼" matches "3号楼" and
"十二路公交" matches "12路公交". A number or a Latin word is one unit ("12路" never
matches "112路"); numbers of 7+ digits (phones, ids) and from 65534 up are dropped.

Scores are cosines under the current document frequencies: idf = 1 + ln((N+1)/(df+1)),
N the indexed documents, so every add and remove moves it. Stop-grams (in more than
`max_df` of the documents, e.g. 社区, 希望, 问题) count in a vector's length but are never
evidence of a match. A query only scores documents that share one of its rarer grams;
the common ones are checked only for candidates that can still reach the threshold.

Pure and deterministic: no clock, no I/O, no randomness; ties go to the lower topic id.
"""

from __future__ import annotations

import heapq
import math
import operator
import re
import unicodedata
import zlib
from array import array
from bisect import bisect_left, insort
from collections import Counter, deque
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from itertools import compress, repeat
from typing import TypeAlias

SHARED_TERMS = 5  # phrases shown with a match or a cluster


@dataclass(frozen=True, slots=True)
class Doc:
    """One open topic as the index sees it; `text` is its title and description."""

    topic_id: int
    room_id: int
    created_at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Match:
    """An indexed topic like the query; `shared` are the phrases that weighed most."""

    topic_id: int
    score: float
    shared: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Cluster:
    """Similar topics from several rooms: a candidate for escalation (提级督办)."""

    topic_ids: tuple[int, ...]
    room_ids: tuple[int, ...]
    top_terms: tuple[str, ...]
    first_at: datetime
    last_at: datetime


# --- text to grams ----------------------------------------------------------------------------

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_CN_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
# Only where a numeral is an address or a route: "一下雨" and "一直" must stay words.
_COUNTED = re.compile(
    "[零〇一二两三四五六七八九十百千]+(?=号|栋|幢|单元|层|楼|路(?:公交|车|班车|巴士|汽车|线))"
)
# Text made only of these (ASCII, CJK punctuation, ideographs, full-width punctuation)
# reads the same after NFKC as far as grams go, and most topics are such text.
_NEEDS_NFKC = re.compile(
    "[^\x00-\x7f\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff"
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]"
)
_PRIVATE = re.compile("[\U000f0000-\U0010ffff]")  # ours: see _encode
_WORD = re.compile("[0-9a-z]+")
_LONG_NUMBER = re.compile("[0-9]{7}")
# A number or a Latin word becomes one private-use character: numbers below 65534 in
# plane 15 by value, words in plane 16 by CRC-32 (a clash merely merges two rare words).
_NUMBERS, _WORDS, _PLANE = 0xF0000, 0x100000, 0xFFFE
_UNIT = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f\U000f0000-\U0010fffd"
_SEGMENT = re.compile(f"[{_UNIT}]+")
_NGRAMS = {n: re.compile(f"(?=([{_UNIT}]{{{n}}}))") for n in (1, 2, 3, 4)}  # overlapping
SIZES = (2,)  # see SimilarityIndex
_TFW = tuple([0.0] + [1.0 + math.log(c) for c in range(1, 64)])


def _cn_number(numeral: str) -> int | None:
    """十二 → 12, 一百零五 → 105, 三 → 3; None for what is not one number (三五)."""
    total, digit, last_unit = 0, -1, 10_000
    for ch in numeral:
        unit = _CN_UNITS.get(ch)
        if unit is not None:
            if unit >= last_unit:
                return None
            total += (1 if digit < 0 else digit) * unit
            digit, last_unit = -1, unit
        elif ch in "零〇" and len(numeral) > 1:
            continue
        elif digit >= 0:
            return None
        else:
            digit = _CN_DIGITS[ch]
    return total + max(digit, 0)


def _arabic(m: re.Match[str]) -> str:
    value = _cn_number(m.group())
    return m.group() if value is None else str(value)


def _encode(m: re.Match[str], words: dict[str, str] | None) -> str:
    unit = m.group()
    if unit.isdigit():
        value = int(unit)
        return " " if len(unit) >= 7 or value >= _PLANE else chr(_NUMBERS + value)
    if _LONG_NUMBER.search(unit):
        return " "
    ch = chr(_WORDS + zlib.crc32(unit.encode()) % _PLANE)
    if words is not None:
        words[ch] = unit
    return ch


def _normalise(text: str, words: dict[str, str] | None = None) -> str:
    """`text` as units: ideographs, and one character per number or word (see _encode).

    `words`, when given, collects the words met, to show them again.
    """
    if _NEEDS_NFKC.search(text):
        text = _PRIVATE.sub(" ", unicodedata.normalize("NFKC", text))
    text = _COUNTED.sub(_arabic, text.casefold())
    if _WORD.search(text):
        text = _WORD.sub(lambda m: _encode(m, words), text)
    return text


def _count(norm: str, sizes: tuple[int, ...]) -> Counter[str]:
    counts = Counter(_NGRAMS[sizes[0]].findall(norm))
    for n in sizes[1:]:
        counts.update(_NGRAMS[n].findall(norm))
    return counts


def _show(units: str, words: dict[str, str]) -> str:
    if max(units) < "\U000f0000":
        return units
    return "".join(
        str(ord(ch) - _NUMBERS)
        if _NUMBERS <= ord(ch) < _WORDS
        else words.get(ch, "?")
        if ord(ch) >= _WORDS
        else ch
        for ch in units
    )


def ngrams(text: str, sizes: tuple[int, ...] = SIZES) -> Counter[str]:
    """The n-grams of `text` with their counts, as an index with these `sizes` sees them
    (numbers and words shown as typed, after folding)."""
    words: dict[str, str] = {}
    counts = _count(_normalise(text, words), sizes)
    return Counter({_show(g, words): n for g, n in counts.items()})


def _tfw(count: int) -> float:
    return _TFW[count] if count < len(_TFW) else 1.0 + math.log(count)


_Layout = tuple[list[str], dict[str, list[tuple[int, int]]]]


def _layout(norm: str, sizes: tuple[int, ...]) -> _Layout:
    """A text's segments, and where each of its grams starts in them: (segment, offset)."""
    segments = _SEGMENT.findall(norm)
    where: dict[str, list[tuple[int, int]]] = {}
    for k, seg in enumerate(segments):
        for size in sizes:
            for i in range(len(seg) - size + 1):
                where.setdefault(seg[i : i + size], []).append((k, i))
    return segments, where


def _phrases(layout: _Layout, weight: dict[str, float]) -> dict[str, float]:
    """Runs of overlapping weighted grams merged into phrases ("12路公交车"), with weights."""
    segments, where = layout
    spans = sorted((k, i, i + len(g), w) for g, w in weight.items() for k, i in where.get(g, ()))
    found: dict[str, float] = {}
    seg, start, end, total = -1, 0, 0, 0.0
    for k, i, j, w in spans:
        if k == seg and i < end:
            end, total = max(end, j), total + w
            continue
        if seg >= 0:
            phrase = segments[seg][start:end]
            found[phrase] = max(found.get(phrase, 0.0), total)
        seg, start, end, total = k, i, j, w
    if seg >= 0:
        phrase = segments[seg][start:end]
        found[phrase] = max(found.get(phrase, 0.0), total)
    return found


# Function characters that make a phrase's ends read as fragments ("的智能快递柜包裹放").
_PARTICLES = "的了和与及在是也就都还把被很让着过吗呢吧啊并而或又"
LONGEST_PHRASE = 10  # longer shared runs are shown cut, with an ellipsis


def _tidy(phrase: str) -> str:
    phrase = phrase.strip(_PARTICLES)
    return phrase if len(phrase) <= LONGEST_PHRASE else phrase[:LONGEST_PHRASE] + "…"


def _top_phrases(
    scored: dict[str, float], words: dict[str, str], k: int = SHARED_TERMS
) -> tuple[str, ...]:
    chosen: list[str] = []
    for phrase, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0])):
        phrase = _tidy(phrase)
        if len(phrase) < 2:
            continue
        if not any(phrase in c or c in phrase for c in chosen):
            chosen.append(phrase)
            if len(chosen) == k:
                break
    return tuple(_show(phrase, words) for phrase in chosen)


# --- the index --------------------------------------------------------------------------------

# A gram's postings: the ascending topic ids of the documents holding it. Documents keep
# references to these arrays, so an array's length is always its gram's current df.
# Arrays rather than lists: a million lists would make every full GC pass crawl.
_Ids: TypeAlias = "array[int]"  # a quoted alias: array is subscriptable from 3.12


class _Postings(dict[str, _Ids]):
    """Gram → postings. Looking up a new gram with [] makes its (empty) postings: only
    `add` does, and fills them at once; everything else uses `get`."""

    __slots__ = ()

    def __missing__(self, gram: str) -> _Ids:
        ids = self[gram] = array("q")
        return ids


@dataclass(frozen=True, slots=True)
class _Entry:
    doc: Doc
    grams: tuple[_Ids, ...]
    multi: tuple[tuple[int, float], ...]  # (position in grams, tf weight) where tf > 1


class _Length:
    """What a document's length is made of, kept so that bounding it costs O(1).

    With M = 1 + ln(N+1) and idf = M − ln(df+1), the light grams (df <= heavy_df) add
    M²·a − 2M·b + c, and b and c follow every df change of those grams. The heavy grams
    (common ones, whose df moves by relatively tiny steps) are summed afresh when the
    exact length is needed; `heavy_sums` are their Σw²·idf², Σw²·idf and Σw²·idf/(df+1)
    as of mutation `epoch` (zeros until first summed), which bound their sum from below
    (see `_lower`).
    """

    __slots__ = ("a", "b", "c", "epoch", "heavy", "heavy_extra", "heavy_sums")

    def __init__(
        self,
        light: tuple[float, float, float],
        heavy: tuple[_Ids, ...],
        heavy_extra: tuple[tuple[_Ids, float], ...],
    ) -> None:
        self.a, self.b, self.c = light
        self.heavy = heavy
        self.heavy_extra = heavy_extra  # (postings, w² − 1) of heavy grams with tf > 1
        self.heavy_sums = (0.0, 0.0, 0.0)
        self.epoch = 0


# (df, query weight, query weight × idf, postings, gram): rarest first once sorted by df
# alone (a stable sort keeps ties in text order, so scores are summed in the same order).
_Term = tuple[int, float, float, _Ids, str]


def _holds(ids: _Ids, topic_id: int) -> bool:
    i = bisect_left(ids, topic_id)
    return i < len(ids) and ids[i] == topic_id


def _check_threshold(threshold: float) -> None:
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], not {threshold}")


class SimilarityIndex:
    """An in-memory inverted index of open topics: gram → topic ids.

    Not thread-safe: one event loop owns it.
    """

    def __init__(
        self,
        docs: Iterable[Doc] = (),
        *,
        sizes: tuple[int, ...] = SIZES,
        max_df: float = 0.05,
        min_stop_df: int = 20,
        heavy_df: int = 128,
    ) -> None:
        """`sizes`: the n-gram lengths, from 1 to 4. Bigrams by default: on the probe's
        corpus (benchmarks/similar_probe.py) adding trigrams left the precision and
        recall of matches where they were and made clusters a little purer, for twice
        the build time and memory (the trigram vocabulary is three times larger).
        `max_df`: a gram in more than this share of the documents (and in more than
        `min_stop_df` of them, so that a small index keeps its grams) is a stop-gram.
        `heavy_df` trades the cost of `add` against that of `similar`; never a score.
        Raises ValueError for sizes outside 1–4, max_df outside (0, 1] or heavy_df < 1.
        """
        if not sizes or set(sizes) - set(_NGRAMS) or not 0.0 < max_df <= 1.0 or heavy_df < 1:
            raise ValueError(
                f"need sizes within 1–4, 0 < max_df <= 1, heavy_df >= 1: "
                f"{sizes}, {max_df}, {heavy_df}"
            )
        self._sizes = tuple(sorted(set(sizes)))
        self._max_df = max_df
        self._min_stop_df = min_stop_df
        self._heavy_df = heavy_df
        self._entries: dict[int, _Entry] = {}
        self._postings = _Postings()
        # By id() of a live postings array: tf weights above 1, and at least the largest
        # tf weight (never lowered, so it stays an upper bound).
        self._extra: dict[int, dict[int, float]] = {}
        self._top: dict[int, float] = {}
        self._lengths: dict[int, _Length] = {}
        self._ln: list[float] = [0.0]  # ln(df + 1), by df
        self._max_id = -(2**63)
        self._mutations = 0
        for doc in docs:
            self.add(doc)
        for tid in self._entries:  # now rather than in the first queries
            self._length(tid)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, topic_id: object) -> bool:
        return topic_id in self._entries

    def add(self, doc: Doc) -> None:
        """Index `doc`, replacing any document with its topic id."""
        tid = doc.topic_id
        if tid in self._entries:
            self.remove(tid)
        counts = _count(_normalise(doc.text), self._sizes)
        grams = tuple(map(self._postings.__getitem__, counts))  # new grams: see _Postings
        before = list(map(len, grams)) if self._lengths else []
        if tid > self._max_id:
            self._max_id = tid
            deque(map(array.append, grams, repeat(tid)), maxlen=0)
        else:
            for p in grams:
                insort(p, tid)
        multi: list[tuple[int, float]] = []
        if counts.total() > len(counts):
            tf = list(counts.values())
            for i in compress(range(len(tf)), map((1).__lt__, tf)):
                w, key = _tfw(tf[i]), id(grams[i])
                self._extra.setdefault(key, {})[tid] = w
                self._top[key] = max(self._top.get(key, 1.0), w)
                multi.append((i, w))
        self._entries[tid] = _Entry(doc, grams, tuple(multi))
        self._mutations += 1
        while len(self._ln) <= len(self._entries):
            self._ln.append(math.log(len(self._ln) + 1))
        if before:
            self._follow(grams, before, +1)

    def remove(self, topic_id: int) -> bool:
        """Forget a topic (resolved, rejected, merged); False if it was not indexed."""
        entry = self._entries.pop(topic_id, None)
        if entry is None:
            return False
        self._lengths.pop(topic_id, None)
        before = list(map(len, entry.grams))
        grams = _count(_normalise(entry.doc.text), self._sizes)
        for gram, p in zip(grams, entry.grams, strict=True):
            del p[bisect_left(p, topic_id)]
            extra = self._extra.get(id(p))
            if extra is not None and extra.pop(topic_id, None) is not None and not extra:
                del self._extra[id(p)]
            if not p:
                del self._postings[gram]
                self._top.pop(id(p), None)
        self._mutations += 1
        if self._lengths:
            self._follow(entry.grams, before, -1)
        return True

    def _follow(self, grams: tuple[_Ids, ...], before: list[int], step: int) -> None:
        """Bring the kept lengths up to date after each gram's df moved by `step`."""
        lengths, limit, ln, m = self._lengths, self._heavy_df, self._ln, self._idf_base()
        get = lengths.get
        for p, old in zip(grams, before, strict=True):
            new = old + step
            if old > limit and new > limit:
                continue  # heavy either way: summed afresh
            extra = self._extra.get(id(p))
            if new > limit:  # now heavy: moves from the exact part to the bounded one
                lg, x = ln[old], m - ln[new]
                for d in p:
                    q = get(d)
                    if q is not None:
                        w2 = 1.0 if extra is None else extra.get(d, 1.0) ** 2
                        q.a, q.b, q.c = q.a - w2, q.b - w2 * lg, q.c - w2 * lg * lg
                        q.heavy += (p,)
                        if w2 != 1.0:
                            q.heavy_extra += ((p, w2 - 1.0),)
                        s2, s1, s0 = q.heavy_sums
                        q.heavy_sums = (s2 + w2 * x * x, s1 + w2 * x, s0 + w2 * x / (new + 1))
                continue
            if old > limit:  # now light: recompute when next needed
                for d in p:
                    lengths.pop(d, None)
                continue
            db, dc = ln[new] - ln[old], ln[new] ** 2 - ln[old] ** 2
            for d in p:
                q = get(d)
                if q is not None:
                    if extra is None:
                        q.b += db
                        q.c += dc
                    else:
                        w2 = extra.get(d, 1.0) ** 2
                        q.b += w2 * db
                        q.c += w2 * dc

    def similar(
        self,
        text: str,
        *,
        limit: int = 10,
        threshold: float = 0.35,
        exclude: AbstractSet[int] = frozenset(),
    ) -> list[Match]:
        """Indexed topics whose cosine with `text` is at least `threshold`, best first
        (ties: lower topic id), at most `limit`, none in `exclude`.

        Raises ValueError unless 0 < threshold <= 1.
        """
        _check_threshold(threshold)
        words: dict[str, str] = {}
        norm = _normalise(text, words)
        counts = _count(norm, self._sizes)
        if limit <= 0 or not counts or not self._entries:
            return []
        m, stop, ln, get = self._idf_base(), self._stop_df(), self._ln, self._postings.get
        qn2 = 0.0
        terms: list[_Term] = []
        for gram, count in counts.items():
            p = get(gram)
            df = 0 if p is None else len(p)
            idf = m - ln[df]
            w = _tfw(count) * idf
            qn2 += w * w
            if p is not None and df <= stop:
                terms.append((df, w, w * idf, p, gram))
        terms.sort(key=_df)
        found = self._score(terms, math.sqrt(qn2), threshold, exclude, limit, None)
        layout = _layout(norm, self._sizes) if found else ([], {})
        return [
            Match(tid, min(1.0, score), self._shared(layout, words, terms, tid))
            for score, tid in found
        ]

    # --- scoring ---

    def _score(
        self,
        terms: list[_Term],
        qn: float,
        threshold: float,
        exclude: AbstractSet[int],
        limit: int | None,
        window: dict[int, list[int]] | None,
    ) -> list[tuple[float, int]]:
        """(score, topic id) of the documents scoring at least `threshold`, best first;
        only the best `limit` unless it is None.

        `terms` are the query's non-stop grams, rarest first, and `qn` its length.
        Candidates come from the postings, or from `window` (id of postings → the ids
        that may be candidates) when given.
        """
        if not terms or qn <= 0.0:
            return []
        m, extra, top = self._idf_base(), self._extra, self._top
        # The common grams whose query weights make a vector shorter than threshold·|q|
        # cannot, even together, lift a document that shares none of the rarer ones to
        # the threshold (Cauchy–Schwarz): they never bring in candidates.
        budget, tail, k = (threshold * qn) ** 2, 0.0, len(terms)
        while k > 0 and tail + terms[k - 1][1] ** 2 < budget:
            k -= 1
            tail += terms[k][1] ** 2
        prefix, suffix = terms[:k], terms[k:]
        tail_norm = math.sqrt(tail)
        tail_dot = sum(f * top.get(id(p), 1.0) for _, _, f, p, _ in suffix)
        acc: dict[int, float] = {}
        get = acc.get
        none: list[int] = []
        for _, _, f, p, _ in prefix:
            for d in p if window is None else window.get(id(p), none):
                acc[d] = get(d, 0.0) + f
            more = extra.get(id(p))
            if more is not None:
                for d, w in more.items():
                    if d in acc:
                        acc[d] += f * (w - 1.0)

        # Bounds first, from a lower bound on each length that costs O(1) (see _lower,
        # inlined here); the exact dot next; the exact length only when still needed.
        floor = threshold * qn * (1.0 - 1e-9)
        lengths, mutations, n1 = self._lengths, self._mutations, len(self._entries) + 1
        candidates: list[tuple[float, int, float, float, _Length]] = []
        for d, dot in acc.items():
            if d in exclude:
                continue
            q = lengths.get(d)
            if q is None:
                q = self._length(d)
            s2, s1, s0 = q.heavy_sums
            if mutations != q.epoch:
                s2 = max(0.0, s2 - 2.0 * (mutations - q.epoch) * (s0 + s1 / n1))
            s = (m * q.a - 2.0 * q.b) * m + q.c + s2
            lower = math.sqrt(s) if s > 0.0 else 0.0
            if lower > 0.0:
                high = (dot + min(tail_norm * lower, tail_dot)) / lower
                if high < floor:
                    continue
            else:
                high = qn
            candidates.append((high, d, dot, lower, q))
        if limit is not None:
            candidates.sort(key=lambda c: (-c[0], c[1]))
        best: list[tuple[float, int]] = []  # a min-heap of (score, −id) when limited
        for high, d, dot, lower, q in candidates:
            full = limit is not None and len(best) == limit
            if full and high < best[0][0] * qn * (1.0 - 1e-9):
                break
            for _, _, f, p, _ in suffix:
                i = bisect_left(p, d)
                if i < len(p) and p[i] == d:
                    more = extra.get(id(p))
                    dot += f if more is None else f * more.get(d, 1.0)
            if lower > 0.0 and (
                dot < floor * lower or (full and dot < best[0][0] * qn * lower * (1.0 - 1e-9))
            ):
                continue
            nd = self._exact(q, m)
            if nd <= 0.0:
                continue
            # Rounded so that equal texts tie (their lengths were summed along different
            # paths) and the lower id wins.
            score = round(dot / (qn * nd), 12)
            if score < threshold - 1e-12:
                continue
            if limit is None:
                best.append((score, -d))
            elif len(best) < limit:
                heapq.heappush(best, (score, -d))
            elif (score, -d) > best[0]:
                heapq.heapreplace(best, (score, -d))
        return [(score, -neg) for score, neg in sorted(best, reverse=True)]

    def _shared(
        self, layout: _Layout, words: dict[str, str], terms: list[_Term], tid: int
    ) -> tuple[str, ...]:
        weight: dict[str, float] = {}
        for _, _, f, p, gram in terms:
            if _holds(p, tid):
                more = self._extra.get(id(p))
                weight[gram] = f if more is None else f * more.get(tid, 1.0)
        return _top_phrases(_phrases(layout, weight), words)

    def _idf_base(self) -> float:
        """M in idf = M − ln(df+1): the smooth IDF 1 + ln((N+1)/(df+1))."""
        return 1.0 + math.log(len(self._entries) + 1)

    def _stop_df(self) -> float:
        return max(self._max_df * len(self._entries), float(self._min_stop_df))

    # --- lengths ---

    def _length(self, tid: int) -> _Length:
        entry = self._entries[tid]
        grams, limit, ln = entry.grams, self._heavy_df, self._ln
        dfs = list(map(len, grams))
        heavy: tuple[_Ids, ...] = ()
        if max(dfs, default=0) <= limit:
            ls = list(map(ln.__getitem__, dfs))
        else:
            light = list(map(limit.__ge__, dfs))
            heavy = tuple(compress(grams, map(operator.not_, light)))
            ls = list(map(ln.__getitem__, compress(dfs, light)))
        a, b, c = float(len(ls)), sum(ls), sum(map(operator.mul, ls, ls))
        heavy_extra: list[tuple[_Ids, float]] = []
        for i, w in entry.multi:
            w2x = w * w - 1.0
            if dfs[i] > limit:
                heavy_extra.append((grams[i], w2x))
            else:
                lg = ln[dfs[i]]
                a, b, c = a + w2x, b + w2x * lg, c + w2x * lg * lg
        q = self._lengths[tid] = _Length((a, b, c), heavy, tuple(heavy_extra))
        q.epoch = self._mutations  # heavy sums unknown (0) until the first _exact
        return q

    def _exact(self, q: _Length, m: float) -> float:
        """|d| now; refreshes the heavy sums behind `_lower`."""
        s2 = s1 = s0 = 0.0
        if q.heavy:
            dfs = list(map(len, q.heavy))
            xs = list(map(m.__sub__, map(self._ln.__getitem__, dfs)))
            s2, s1 = sum(map(operator.mul, xs, xs)), sum(xs)
            s0 = sum(map(operator.truediv, xs, map((1).__add__, dfs)))
        for p, w2x in q.heavy_extra:
            x = m - self._ln[len(p)]
            s2, s1, s0 = s2 + w2x * x * x, s1 + w2x * x, s0 + w2x * x / (len(p) + 1)
        q.heavy_sums, q.epoch = (s2, s1, s0), self._mutations
        s = (m * q.a - 2.0 * q.b) * m + q.c + s2
        return math.sqrt(s) if s > 0.0 else 0.0

    def _lower(self, q: _Length, m: float) -> float:
        """A lower bound on |d|², in O(1): the light part exactly, the heavy part as it
        was at `epoch` less what the k adds and removes since can have taken off it.

        idf = M − ln(df+1). Over k mutations a gram's df rises by at most k, so its
        ln(df+1) by at most k/(df₀+1); N falls by at most k, so M by at most k/(N+1).
        Each heavy idf x₀ is thus at least x₀ − e with e = k/(df₀+1) + k/(N+1), and
        its square at least x₀² − 2e·x₀ (if x₀ − e < 0 that is negative anyway).
        """
        s = (m * q.a - 2.0 * q.b) * m + q.c
        s2, s1, s0 = q.heavy_sums
        k = self._mutations - q.epoch
        if k:
            s2 = max(0.0, s2 - 2.0 * k * (s0 + s1 / (len(self._entries) + 1)))
        return s + s2

    # --- clusters ---

    def _clusters(
        self,
        threshold: float,
        min_topics: int,
        min_rooms: int,
        since: datetime,
        until: datetime,
    ) -> list[Cluster]:
        window = sorted(
            (e for e in self._entries.values() if since <= e.doc.created_at < until),
            key=lambda e: e.doc.topic_id,
        )
        if len(window) < min_topics:
            return []
        parent = {e.doc.topic_id: e.doc.topic_id for e in window}

        def root(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        # All pairs, each once: a topic is scored against the earlier ones only.
        m, stop, ln = self._idf_base(), self._stop_df(), self._ln
        seen: dict[int, list[int]] = {}
        for e in window:
            x = e.doc.topic_id
            weights = dict(e.multi)
            terms: list[_Term] = []
            for i, p in enumerate(e.grams):
                df = len(p)
                if df <= stop:
                    idf = m - ln[df]
                    w = weights.get(i, 1.0) * idf
                    terms.append((df, w, w * idf, p, ""))
            terms.sort(key=_df)
            q = self._lengths.get(x) or self._length(x)
            for _, y in self._score(terms, self._exact(q, m), threshold, frozenset(), None, seen):
                parent[root(y)] = root(x)
            for t in terms:
                seen.setdefault(id(t[3]), []).append(x)

        groups: dict[int, list[Doc]] = {}
        for e in window:
            groups.setdefault(root(e.doc.topic_id), []).append(e.doc)
        found: list[Cluster] = []
        for members in groups.values():
            rooms = sorted({doc.room_id for doc in members})
            if len(members) < min_topics or len(rooms) < min_rooms:
                continue
            times = [doc.created_at for doc in members]
            found.append(
                Cluster(
                    topic_ids=tuple(doc.topic_id for doc in members),
                    room_ids=tuple(rooms),
                    top_terms=self._top_terms(members),
                    first_at=min(times),
                    last_at=max(times),
                )
            )
        found.sort(key=lambda c: (-len(c.topic_ids), -len(c.room_ids), c.topic_ids[0]))
        return found

    def _top_terms(self, members: list[Doc]) -> tuple[str, ...]:
        """Phrases a third or more of the members share, by IDF: what the cluster is about."""
        m, stop, ln = self._idf_base(), self._stop_df(), self._ln
        words: dict[str, str] = {}
        norms = [_normalise(doc.text, words) for doc in members]
        support: Counter[str] = Counter()
        for norm in norms:
            support.update(_count(norm, self._sizes).keys())
        need = max(2, math.ceil(len(members) / 3))
        weight: dict[str, float] = {}
        for gram, n in support.items():
            df = len(self._postings.get(gram, ()))
            if n >= need and df <= stop:
                weight[gram] = n * (m - ln[df]) ** 2
        phrase_weight: dict[str, float] = {}
        phrase_support: Counter[str] = Counter()
        for norm in norms:
            for phrase, w in _phrases(_layout(norm, self._sizes), weight).items():
                phrase_weight[phrase] = max(phrase_weight.get(phrase, 0.0), w)
                phrase_support[phrase] += 1
        scored = {ph: w * phrase_support[ph] for ph, w in phrase_weight.items()}
        return _top_phrases(scored, words)


_df = operator.itemgetter(0)


def clusters(
    index_or_docs: SimilarityIndex | Iterable[Doc],
    *,
    threshold: float,
    min_topics: int = 5,
    min_rooms: int = 3,
    since: datetime,
    until: datetime,
) -> list[Cluster]:
    """Groups of similar topics created in [since, until) that span rooms, largest first.

    Topics are linked when their cosine is at least `threshold`; a cluster is a connected
    component (single link) with at least `min_topics` topics from `min_rooms` rooms.
    Only topics inside the window are linked or counted. IDF comes from the whole index
    (or from all of `index_or_docs` when documents are given).
    Raises ValueError unless 0 < threshold <= 1.
    """
    _check_threshold(threshold)
    index = (
        index_or_docs
        if isinstance(index_or_docs, SimilarityIndex)
        else SimilarityIndex(index_or_docs)
    )
    return index._clusters(threshold, min_topics, min_rooms, since, until)
