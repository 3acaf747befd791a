"""Similar topics (相似议题): the same matter raised in several rooms, found by its text.

Chinese has no spaces, so a topic is a bag of character 2- and 3-grams, weighted by
TF-IDF and compared by cosine. Grams never span punctuation or spaces. NFKC folds
full-width letters and digits; Chinese numerals before 号/栋/单元/层/楼 and bus routes
become digits, so "三号楼" matches "3号楼" and "十二路公交" matches "12路公交". A number
or a Latin word is one unit ("12路" never matches "112路"); numbers of 7+ digits (phones,
ids) and from 65534 up are dropped.

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
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from itertools import compress, repeat
from typing import TypeAlias, cast

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
_WORD = re.compile("[0-9a-z]+")
_LONG_NUMBER = re.compile("[0-9]{7}")
# A number or a Latin word becomes one private-use character: numbers below 65534 in
# plane 15 by value, words in plane 16 by CRC-32 (a clash merely merges two rare words).
_NUMBERS, _WORDS, _PLANE = 0xF0000, 0x100000, 0xFFFE
_UNIT = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f\U000f0000-\U0010fffd"
_SEGMENT = re.compile(f"[{_UNIT}]+")
_BIGRAMS = re.compile(f"(?=([{_UNIT}]{{2}}))")
_TRIGRAMS = re.compile(f"(?=([{_UNIT}]{{3}}))")
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
        text = unicodedata.normalize("NFKC", text)
    text = _COUNTED.sub(_arabic, text.casefold())
    if _WORD.search(text):
        text = _WORD.sub(lambda m: _encode(m, words), text)
    return text


def _count(norm: str) -> Counter[str]:
    counts = Counter(_BIGRAMS.findall(norm))
    counts.update(_TRIGRAMS.findall(norm))
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


def ngrams(text: str) -> Counter[str]:
    """The 2- and 3-grams of `text` with their counts, as the index sees them
    (numbers and words shown as typed, after folding)."""
    words: dict[str, str] = {}
    return Counter({_show(g, words): n for g, n in _count(_normalise(text, words)).items()})


def _tfw(count: int) -> float:
    return _TFW[count] if count < len(_TFW) else 1.0 + math.log(count)


_Layout = tuple[list[str], dict[str, list[tuple[int, int]]]]


def _layout(norm: str) -> _Layout:
    """A text's segments, and where each of its grams starts in them: (segment, offset)."""
    segments = _SEGMENT.findall(norm)
    where: dict[str, list[tuple[int, int]]] = {}
    for k, seg in enumerate(segments):
        for size in (2, 3):
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


def _top_phrases(
    scored: dict[str, float], words: dict[str, str], k: int = SHARED_TERMS
) -> tuple[str, ...]:
    chosen: list[str] = []
    for phrase, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0])):
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


@dataclass(frozen=True, slots=True)
class _Entry:
    doc: Doc
    grams: tuple[_Ids, ...]
    multi: tuple[tuple[int, float], ...]  # (position in grams, tf weight) where tf > 1


class _Length:
    """What a document's length is made of, kept so that scoring it costs O(1).

    With M = 1 + ln(N+1) and idf = M − ln(df+1), the light grams (df <= heavy_df) add
    M²·a − 2M·b + c; b and c follow every df change of those grams. The heavy grams
    (common, few per document, df moving by tiny steps) are summed afresh when the exact
    length is needed; s1 and s2 are their Σw²·idf and Σw²·idf² at `epoch`, which bound
    their sum from below until it is refreshed.
    """

    __slots__ = ("a", "b", "c", "epoch", "heavy", "heavy_extra", "s1", "s2")

    def __init__(
        self,
        light: tuple[float, float, float],
        heavy: tuple[_Ids, ...],
        heavy_extra: tuple[tuple[_Ids, float], ...],
    ) -> None:
        self.a, self.b, self.c = light
        self.heavy = heavy
        self.heavy_extra = heavy_extra  # (postings, w² − 1) of heavy grams with tf > 1
        self.s1 = self.s2 = 0.0
        self.epoch = -1


# (df, gram, query weight, query weight × idf, postings)
_Term = tuple[int, str, float, float, _Ids]
# Which ids of a gram's postings may be candidates: all of them, or a window's.
_Lists = Callable[[_Ids], Iterable[int]]


def _holds(ids: _Ids, topic_id: int) -> bool:
    i = bisect_left(ids, topic_id)
    return i < len(ids) and ids[i] == topic_id


def _all(ids: _Ids) -> _Ids:
    return ids


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
        max_df: float = 0.05,
        min_stop_df: int = 20,
        heavy_df: int = 128,
    ) -> None:
        """`max_df`: a gram in more than this share of the documents (and in more than
        `min_stop_df` of them, so that a small index keeps its grams) is a stop-gram.
        `heavy_df` trades the cost of `add` against that of `similar`; never a score.
        Raises ValueError unless 0 < max_df <= 1 and heavy_df >= 1.
        """
        if not 0.0 < max_df <= 1.0 or heavy_df < 1:
            raise ValueError(f"need 0 < max_df <= 1 and heavy_df >= 1: {max_df}, {heavy_df}")
        self._max_df = max_df
        self._min_stop_df = min_stop_df
        self._heavy_df = heavy_df
        self._entries: dict[int, _Entry] = {}
        self._postings: dict[str, _Ids] = {}
        self._extra: dict[str, dict[int, float]] = {}  # tf weights above 1, by gram
        self._top: dict[str, float] = {}  # at least the largest tf weight (never lowered)
        self._lengths: dict[int, _Length] = {}  # only for documents scored since indexed
        self._ln: list[float] = [0.0]  # ln(df + 1), by df
        self._max_id = -(2**63)
        self._mutations = 0
        for doc in docs:
            self.add(doc)
        for tid in self._entries:
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
        counts = _count(_normalise(doc.text))
        postings = self._postings
        found = list(map(postings.get, counts))
        if None in found:
            for i, gram in enumerate(counts):
                if found[i] is None:
                    found[i] = postings[gram] = array("q")
        grams = cast("tuple[_Ids, ...]", tuple(found))
        before = list(map(len, grams)) if self._lengths else []
        if tid > self._max_id:
            self._max_id = tid
            deque(map(array.append, grams, repeat(tid)), maxlen=0)
        else:
            for p in grams:
                insort(p, tid)
        multi: list[tuple[int, float]] = []
        if counts.total() > len(counts):
            for i, (gram, count) in enumerate(counts.items()):
                if count > 1:
                    w = _tfw(count)
                    self._extra.setdefault(gram, {})[tid] = w
                    self._top[gram] = max(self._top.get(gram, 1.0), w)
                    multi.append((i, w))
        self._entries[tid] = _Entry(doc, grams, tuple(multi))
        self._mutations += 1
        while len(self._ln) <= len(self._entries):
            self._ln.append(math.log(len(self._ln) + 1))
        if before:
            self._follow(list(counts), grams, before, +1)

    def remove(self, topic_id: int) -> bool:
        """Forget a topic (resolved, rejected, merged); False if it was not indexed."""
        entry = self._entries.pop(topic_id, None)
        if entry is None:
            return False
        self._lengths.pop(topic_id, None)
        grams = list(_count(_normalise(entry.doc.text)))
        before = list(map(len, entry.grams))
        for gram, p in zip(grams, entry.grams, strict=True):
            del p[bisect_left(p, topic_id)]
            extra = self._extra.get(gram)
            if extra is not None and extra.pop(topic_id, None) is not None and not extra:
                del self._extra[gram]
            if not p:
                del self._postings[gram]
                self._top.pop(gram, None)
        self._mutations += 1
        if self._lengths:
            self._follow(grams, entry.grams, before, -1)
        return True

    def _follow(
        self, grams: list[str], lists: tuple[_Ids, ...], before: list[int], step: int
    ) -> None:
        """Bring the kept lengths up to date after each gram's df moved by `step`."""
        lengths, limit, ln = self._lengths, self._heavy_df, self._ln
        get = lengths.get
        for gram, p, old in zip(grams, lists, before, strict=True):
            new = old + step
            if old > limit and new > limit:
                continue  # heavy either way: summed afresh
            if old > limit or new > limit:
                for d in p:  # light ↔ heavy: recompute when next needed
                    lengths.pop(d, None)
                continue
            db, dc = ln[new] - ln[old], ln[new] ** 2 - ln[old] ** 2
            extra = self._extra.get(gram)
            for d in p:
                q = get(d)
                if q is None:
                    continue
                w2 = 1.0 if extra is None else extra.get(d, 1.0) ** 2
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
        counts = _count(norm)
        if limit <= 0 or not counts or not self._entries:
            return []
        terms, qn = self._terms(counts)
        found = self._score(terms, qn, threshold, _all, exclude, limit) if terms else []
        layout = _layout(norm) if found else ([], {})
        return [
            Match(tid, min(1.0, score), self._shared(layout, words, terms, tid))
            for score, tid in found
        ]

    # --- scoring ---

    def _terms(self, counts: Counter[str]) -> tuple[list[_Term], float]:
        """The query's non-stop grams, rarest first, and its length (stop-grams included)."""
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
                terms.append((df, gram, w, w * idf, p))
        terms.sort(key=lambda t: (t[0], t[1]))
        return terms, math.sqrt(qn2)

    def _score(
        self,
        terms: list[_Term],
        qn: float,
        threshold: float,
        lists: _Lists,
        exclude: AbstractSet[int],
        limit: int | None,
    ) -> list[tuple[float, int]]:
        """(score, topic id) of the documents scoring at least `threshold`, best first;
        only the best `limit` unless it is None.

        `terms` and `qn` come from `_terms`; `lists` gives the ids of a gram's postings
        that may be candidates.
        """
        m, extra, top = self._idf_base(), self._extra, self._top
        # The common grams whose query weights make a vector shorter than threshold·|q|
        # cannot, even together, lift a document that shares none of the rarer ones to
        # the threshold (Cauchy–Schwarz): they never bring in candidates.
        budget, tail, k = (threshold * qn) ** 2, 0.0, len(terms)
        while k > 0 and tail + terms[k - 1][2] ** 2 < budget:
            k -= 1
            tail += terms[k][2] ** 2
        prefix, suffix = terms[:k], terms[k:]
        tail_norm = math.sqrt(tail)
        tail_dot = sum(f * top.get(gram, 1.0) for _, gram, _, f, _ in suffix)
        acc: dict[int, float] = {}
        get = acc.get
        for _, gram, _, f, p in prefix:
            for d in lists(p):
                acc[d] = get(d, 0.0) + f
            more = extra.get(gram)
            if more is not None:
                for d, w in more.items():
                    if d in acc:
                        acc[d] += f * (w - 1.0)

        def bound(dot: float, length: float) -> float:
            return min(dot / length + tail_norm, (dot + tail_dot) / length) / qn

        # Bounds first, from a lower bound on |d| that costs O(1); exact lengths after.
        floor = threshold * (1.0 - 1e-9)
        candidates: list[tuple[float, int, float, _Length]] = []
        for d, dot in acc.items():
            if d in exclude:
                continue
            q = self._length(d)
            lower = self._lower(q, m)
            high = bound(dot, lower) if lower > 0.0 else 1.0
            if high >= floor:
                candidates.append((high, d, dot, q))
        if limit is not None:
            candidates.sort(key=lambda c: (-c[0], c[1]))
        best: list[tuple[float, int]] = []  # a min-heap of (score, −id) when limited
        for high, d, dot, q in candidates:
            if limit is not None and len(best) == limit and high * (1.0 + 1e-9) < best[0][0]:
                break
            nd = self._exact(q, m)
            if nd <= 0.0 or bound(dot, nd) < floor:
                continue
            for _, gram, _, f, p in suffix:
                if _holds(p, d):
                    more = extra.get(gram)
                    dot += f if more is None else f * more.get(d, 1.0)
            score = dot / (qn * nd)
            if score < threshold * (1.0 - 1e-12):
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
        for _, gram, _, f, p in terms:
            if _holds(p, tid):
                more = self._extra.get(gram)
                weight[gram] = f if more is None else f * more.get(tid, 1.0)
        return _top_phrases(_phrases(layout, weight), words)

    def _idf_base(self) -> float:
        """M in idf = M − ln(df+1): the smooth IDF 1 + ln((N+1)/(df+1))."""
        return 1.0 + math.log(len(self._entries) + 1)

    def _stop_df(self) -> float:
        return max(self._max_df * len(self._entries), float(self._min_stop_df))

    # --- lengths ---

    def _length(self, tid: int) -> _Length:
        q = self._lengths.get(tid)
        if q is not None:
            return q
        entry = self._entries[tid]
        grams, limit, ln = entry.grams, self._heavy_df, self._ln
        dfs = list(map(len, grams))
        heavy: tuple[_Ids, ...] = ()
        if max(dfs, default=0) <= limit:
            ls = list(map(ln.__getitem__, dfs))
        else:
            heavy = tuple(compress(grams, map(limit.__lt__, dfs)))
            ls = list(map(ln.__getitem__, compress(dfs, map(limit.__ge__, dfs))))
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
        return q

    def _lower(self, q: _Length, m: float) -> float:
        """A lower bound on |d|: exact light part, heavy part as it was less the drift.

        Each add or remove lowers a heavy gram's idf by less than 1/(heavy_df + 1) (its
        df grows by one) or 1/N (N shrinks by one), so after k of them every heavy idf is
        at least its old value less e = k / min(heavy_df + 1, N − k), and its square at
        least the old square less 2e times the old idf.
        """
        s = (m * q.a - 2.0 * q.b) * m + q.c
        if q.epoch >= 0:
            k = self._mutations - q.epoch
            room = min(self._heavy_df + 1, len(self._entries) - k)
            if room > 0 and k < room:
                s += max(0.0, q.s2 - 2.0 * (k / room) * q.s1)
        return math.sqrt(s) if s > 0.0 else 0.0

    def _exact(self, q: _Length, m: float) -> float:
        """|d| now; refreshes the heavy sums behind `_lower`."""
        s = (m * q.a - 2.0 * q.b) * m + q.c
        s1 = s2 = 0.0
        if q.heavy:
            ls = list(map(self._ln.__getitem__, map(len, q.heavy)))
            s1 = m * len(ls) - sum(ls)
            s2 = (m * len(ls) - 2.0 * sum(ls)) * m + sum(map(operator.mul, ls, ls))
        for p, w2x in q.heavy_extra:
            x = m - self._ln[len(p)]
            s1, s2 = s1 + w2x * x, s2 + w2x * x * x
        q.s1, q.s2, q.epoch = s1, s2, self._mutations
        s += s2
        return math.sqrt(s) if s > 0.0 else 0.0

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
            (e.doc for e in self._entries.values() if since <= e.doc.created_at < until),
            key=lambda doc: doc.topic_id,
        )
        if len(window) < min_topics:
            return []
        parent = {doc.topic_id: doc.topic_id for doc in window}

        def root(x: int) -> int:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        # All pairs, each once: a document is scored against the earlier ones only.
        seen: dict[int, list[int]] = {}
        empty: list[int] = []

        def earlier(p: _Ids) -> list[int]:
            return seen.get(id(p), empty)

        for doc in window:
            terms, norm = self._terms(_count(_normalise(doc.text)))
            if terms and norm > 0.0:
                for _, y in self._score(terms, norm, threshold, earlier, frozenset(), None):
                    parent[root(y)] = root(doc.topic_id)
            for t in terms:
                seen.setdefault(id(t[4]), []).append(doc.topic_id)

        groups: dict[int, list[Doc]] = {}
        for doc in window:
            groups.setdefault(root(doc.topic_id), []).append(doc)
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
            support.update(_count(norm).keys())
        need = max(2, math.ceil(len(members) / 3))
        weight: dict[str, float] = {}
        for gram, n in support.items():
            df = len(self._postings.get(gram, ()))
            if n >= need and df <= stop:
                weight[gram] = n * (m - ln[df]) ** 2
        phrase_weight: dict[str, float] = {}
        phrase_support: Counter[str] = Counter()
        for norm in norms:
            for phrase, w in _phrases(_layout(norm), weight).items():
                phrase_weight[phrase] = max(phrase_weight.get(phrase, 0.0), w)
                phrase_support[phrase] += 1
        scored = {ph: w * phrase_support[ph] for ph, w in phrase_weight.items()}
        return _top_phrases(scored, words)


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
