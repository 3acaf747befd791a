"""Screening (分类识别): guess a topic's category and subject from its text.

Multinomial naive Bayes over character 1–3-grams, in pure Python so the domain layer
stays stdlib only. Chinese has no spaces, and a resident's typo breaks a word but
leaves most of its character n-grams intact, so no word segmenter is needed.

A prediction is advice for a dispatcher, never a decision: it carries a calibrated
confidence and the phrases of the text that weighed most for the label. Dispatchers'
corrections are more labelled examples: `train` takes any iterable of (text, label),
so the bundled corpus and the corrections are simply concatenated.
"""

from __future__ import annotations

import csv
import math
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CATEGORIES: tuple[str, ...] = ("petition", "legal", "opinion")
SUBJECTS: tuple[str, ...] = (
    "housing",
    "education",
    "medical_insurance",
    "parking_traffic",
    "property_management",
    "elderly_care",
    "environment_sanitation",
    "employment",
    "public_safety",
    "other",
)
CORPUS_PATH = Path(__file__).with_name("corpus") / "labelled.csv"
FORMAT = "mashangyi.classify.nb/1"
MAX_CHARS = 400  # the rest of a long description costs time and rarely changes the label
MIN_LIFT = 0.7  # strong evidence is about twice as likely under its label as elsewhere

_RUN = re.compile(r"[^\W_]+")  # letters, digits and ideographs; punctuation splits runs
_NUMBER = re.compile(r"\d+")
_IDEOGRAPHS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")  # unchanged by NFKC
_EDGE_PARTICLES = "的了是在和与及就都也还把被对从给说"
_CSV_FIELDS = ("title", "description", "category", "subject", "split")


@dataclass(frozen=True, slots=True)
class Options:
    """Feature and smoothing choices."""

    alpha: float = 0.5  # Lidstone smoothing of n-gram counts
    binary: bool = False  # count an n-gram once per topic, however often it repeats
    max_chars: int = MAX_CHARS
    folds: int = 5  # for fitting the confidence temperature


# Chosen by 5-fold cross-validation on the training split only (corpus/README.md).
CATEGORY_OPTIONS = Options(alpha=1.0, binary=True)
SUBJECT_OPTIONS = Options(alpha=0.5, binary=False)


@dataclass(frozen=True, slots=True)
class Prediction:
    label: str
    confidence: float  # calibrated probability of `label`, 0..1
    evidence: tuple[str, ...]  # phrases of the text that weighed most for `label`


@dataclass(frozen=True, slots=True)
class Example:
    title: str
    description: str
    category: str
    subject: str
    split: str = "train"

    @property
    def text(self) -> str:
        return topic_text(self.title, self.description)


def topic_text(title: str, description: str) -> str:
    """The one text a topic is classified by, in training and in use alike."""
    return f"{title.strip()}\n{description.strip()}"


def ngrams(text: str, max_chars: int = MAX_CHARS) -> Counter[str]:
    """Character 1–3-grams of `text`, never spanning punctuation or spaces.

    NFKC folds full-width letters and digits; every number becomes "0", so "3号楼" and
    "12号楼" share their n-grams.
    """
    norm = _NUMBER.sub("0", unicodedata.normalize("NFKC", text[:max_chars]).lower())
    return Counter(
        [
            run[i : i + n]
            for run in _RUN.findall(norm)
            for n in (1, 2, 3)
            for i in range(len(run) - n + 1)
        ]
    )


class Model:
    """One naive Bayes classifier over a fixed label list.

    Holds the n-gram counts per label (what `to_json` stores) and the log-weights
    derived from them (what `predict` reads). Not changed after construction.
    """

    def __init__(
        self,
        labels: Sequence[str],
        counts: Mapping[str, Sequence[int]],
        docs: Sequence[int],
        options: Options,
        temperature: float = 1.0,
        *,
        explain: bool = True,
    ) -> None:
        self.labels = tuple(labels)
        self.options = options
        self.temperature = temperature
        self._counts = {g: tuple(c) for g, c in counts.items()}
        self._docs = tuple(docs)
        k = len(self.labels)
        if len(self._docs) != k or any(len(c) != k for c in self._counts.values()):
            raise ValueError("counts and docs must have one entry per label")
        alpha, vocab = options.alpha, len(self._counts)
        totals = [sum(c[i] for c in self._counts.values()) for i in range(k)]
        norms = [math.log(t + alpha * vocab) for t in totals]
        n_docs = sum(self._docs)
        self._prior = tuple(math.log((d + 1) / (n_docs + k)) for d in self._docs)
        self._weights = {
            g: tuple(math.log(n + alpha) - z for n, z in zip(c, norms, strict=True))
            for g, c in self._counts.items()
        }
        self._signs: dict[str, tuple[float, ...]] | None = None
        if explain:  # build now, so the first topic is as fast as the rest
            self._evidence_signs()

    def raw_scores(self, text: str) -> tuple[list[float], list[str]]:
        """Log joint likelihood per label, and the n-grams of `text` the model knows."""
        return self._score(ngrams(text, self.options.max_chars))

    def _score(self, grams: Mapping[str, int]) -> tuple[list[float], list[str]]:
        weights = self._weights
        known = [g for g in grams if g in weights]
        if self.options.binary:
            rows = [weights[g] for g in known]
        else:
            rows = [weights[g] for g in known for _ in range(grams[g])]
        if not rows:
            return list(self._prior), known
        return [
            p + sum(col) for p, col in zip(self._prior, zip(*rows, strict=True), strict=True)
        ], known

    def probabilities(self, text: str) -> dict[str, float]:
        scores, _ = self.raw_scores(text)
        return dict(zip(self.labels, _softmax(scores, self.temperature), strict=True))

    def predict(self, text: str, evidence: int = 5) -> Prediction:
        """The likeliest label, its confidence, and up to `evidence` phrases behind it."""
        return self._predict(text, ngrams(text, self.options.max_chars), evidence)

    def _predict(self, text: str, grams: Mapping[str, int], evidence: int) -> Prediction:
        scores, known = self._score(grams)
        probs = _softmax(scores, self.temperature)
        best = max(range(len(self.labels)), key=lambda i: (probs[i], -i))
        return Prediction(
            label=self.labels[best],
            confidence=probs[best],
            evidence=self._evidence(text, best, known, evidence),
        )

    def _evidence(self, text: str, best: int, known: list[str], limit: int) -> tuple[str, ...]:
        """Phrases of `text` covered by the n-grams that most favour label `best`.

        An n-gram counts if it was seen with `best` at least twice and is `MIN_LIFT` more
        likely (in log terms) under `best` than under the other labels on average; it
        weighs its lift times the log of that count, so a phrase recurring in the label's
        examples beats a one-off. Overlapping n-grams merge into one phrase, trimmed of
        particles at its edges unless that would leave one character. Each phrase is a
        substring of `text` as typed.
        """
        if limit <= 0 or len(self.labels) < 2:
            return ()
        signs = self._evidence_signs()
        found = [(signs[g][best], g) for g in known if g in signs]
        weight = {g: v for v, g in found if v > 0} or {g: -v for v, g in found if v < 0}
        top = sorted(weight, key=lambda g: (-weight[g], g))[: limit * 3]
        spans = sorted((i, i + len(g)) for g in top if (i := text.find(g)) >= 0)
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        phrases: dict[str, float] = {}
        for start, end in merged:
            phrase = text[start:end]
            score = sum(weight[g] for g in top if g in phrase)
            if len(trimmed := phrase.strip(_EDGE_PARTICLES)) >= 2:
                phrase = trimmed
            phrases[phrase] = max(score, phrases.get(phrase, 0.0))
        return tuple(sorted(phrases, key=lambda p: (-phrases[p], p))[:limit])

    def _evidence_signs(self) -> dict[str, tuple[float, ...]]:
        """Per readable n-gram, per label: its evidence weight, positive when strong,
        negative when merely positive lift (used only when a text has nothing strong).

        Models fitted only for cross-validation skip it (`explain=False`).
        """
        if self._signs is None:
            others = len(self.labels) - 1
            signs = {}
            for g, counts in self._counts.items():
                if len(g) < 2 or not _IDEOGRAPHS.fullmatch(g):
                    continue  # single characters and latin or digit scraps read as noise
                w = self._weights[g]
                total = sum(w)
                row = []
                for wi, seen in zip(w, counts, strict=True):
                    lift = wi - (total - wi) / others
                    weight = lift * math.log1p(seen)
                    strong = lift >= MIN_LIFT and seen >= 2
                    row.append(weight if strong else -weight if lift > 0 and seen else 0.0)
                signs[g] = tuple(row)
            self._signs = signs
        return self._signs

    def to_json(self) -> dict[str, Any]:
        """Counts, not weights: smaller, exact, and what a retrain would start from."""
        return {
            "format": FORMAT,
            "labels": list(self.labels),
            "options": {
                "alpha": self.options.alpha,
                "binary": self.options.binary,
                "max_chars": self.options.max_chars,
                "folds": self.options.folds,
            },
            "temperature": self.temperature,
            "docs": list(self._docs),
            "counts": {g: [[i, n] for i, n in enumerate(c) if n] for g, c in self._counts.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model: format is {data.get('format')!r}")
        labels = [str(x) for x in data["labels"]]
        o = data["options"]
        options = Options(
            alpha=float(o["alpha"]),
            binary=bool(o["binary"]),
            max_chars=int(o["max_chars"]),
            folds=int(o["folds"]),
        )
        counts: dict[str, list[int]] = {}
        for g, pairs in data["counts"].items():
            row = [0] * len(labels)
            for i, n in pairs:
                row[int(i)] = int(n)
            counts[str(g)] = row
        docs = [int(d) for d in data["docs"]]
        return cls(labels, counts, docs, options, float(data["temperature"]))


def train(
    examples: Iterable[tuple[str, str]],
    labels: Sequence[str],
    options: Options | None = None,
    *,
    unknown: str | None = None,
) -> Model:
    """A model for `labels` fitted to (text, label) pairs, deterministically.

    A label outside `labels` is relabelled `unknown` (for a configured subject list that
    drops some corpus subjects into "other"), or refused with ValueError when `unknown`
    is None. Every label needs at least one example. The confidence temperature is fitted
    on out-of-fold predictions when each label has at least `options.folds` examples.
    """
    opts = options or Options()
    index = {label: i for i, label in enumerate(labels)}
    if len(index) != len(labels) or not labels:
        raise ValueError("labels must be a non-empty list without repeats")
    if unknown is not None and unknown not in index:
        raise ValueError(f"unknown label {unknown!r} is not among the labels")
    rows: list[tuple[Counter[str], int]] = []
    for text, label in examples:
        if label not in index:
            if unknown is None:
                raise ValueError(f"label {label!r} is not among {list(labels)}")
            label = unknown
        rows.append((ngrams(text, opts.max_chars), index[label]))
    missing = [lbl for lbl, i in index.items() if not any(y == i for _, y in rows)]
    if missing:
        raise ValueError(f"no examples for labels {missing}")
    temperature = _fit_temperature(rows, labels, opts)
    return _fit(rows, labels, opts, temperature)


def _fit(
    rows: Sequence[tuple[Counter[str], int]],
    labels: Sequence[str],
    opts: Options,
    t: float,
    explain: bool = True,
) -> Model:
    k = len(labels)
    counts: dict[str, list[int]] = {}
    docs = [0] * k
    for grams, y in rows:
        docs[y] += 1
        for g, n in grams.items():
            row = counts.get(g)
            if row is None:
                row = counts[g] = [0] * k
            row[y] += 1 if opts.binary else n
    return Model(labels, counts, docs, opts, t, explain=explain)


def _fit_temperature(
    rows: Sequence[tuple[Counter[str], int]], labels: Sequence[str], opts: Options
) -> float:
    """The softmax temperature that best predicts held-out folds (least log loss).

    Naive Bayes adds up hundreds of correlated n-gram votes, so its raw posteriors are
    nearly always 0 or 1; dividing the scores by a fitted temperature makes confidence
    track how often the label is right on topics the model has not seen.
    """
    per_label = Counter(y for _, y in rows)
    if opts.folds < 2 or min(per_label.values()) < opts.folds:
        return 1.0
    seen: Counter[int] = Counter()
    fold_of: list[int] = []
    for _, y in rows:  # stratified: the i-th example of each label goes to fold i mod k
        fold_of.append(seen[y] % opts.folds)
        seen[y] += 1
    held: list[tuple[list[float], int]] = []
    for f in range(opts.folds):
        rest = [r for r, fo in zip(rows, fold_of, strict=True) if fo != f]
        model = _fit(rest, labels, opts, 1.0, explain=False)
        for (grams, y), fo in zip(rows, fold_of, strict=True):
            if fo == f:
                held.append((model._score(grams)[0], y))

    def loss(t: float) -> float:
        return -sum(math.log(max(_softmax(s, t)[y], 1e-12)) for s, y in held)

    grid = [2 ** (i / 4) for i in range(-4, 41)]  # 0.5 .. 1024
    return min(grid, key=lambda t: (loss(t), t))


def _softmax(scores: Sequence[float], temperature: float) -> list[float]:
    top = max(scores)
    exps = [math.exp((s - top) / temperature) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


@dataclass(frozen=True, slots=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Report:
    classes: tuple[ClassScore, ...]
    accuracy: float
    macro_f1: float
    confusion: tuple[tuple[int, ...], ...]  # confusion[true][predicted], in label order

    def format(self) -> str:
        width = max(12, *(len(c.label) for c in self.classes))
        lines = [f"{'label':<{width}}  precision  recall     f1  support"]
        for c in self.classes:
            lines.append(
                f"{c.label:<{width}}  {c.precision:9.3f}  {c.recall:6.3f}  {c.f1:5.3f}"
                f"  {c.support:7d}"
            )
        total = sum(c.support for c in self.classes)
        lines.append(f"{'macro-F1':<{width}}  {'':9}  {'':6}  {self.macro_f1:5.3f}  {total:7d}")
        lines.append(f"{'accuracy':<{width}}  {'':9}  {'':6}  {self.accuracy:5.3f}  {total:7d}")
        return "\n".join(lines)


def evaluate(model: Model, examples: Iterable[tuple[str, str]]) -> Report:
    """Per-label precision, recall and F1 of `model` on labelled (text, label) pairs."""
    k = len(model.labels)
    index = {label: i for i, label in enumerate(model.labels)}
    confusion = [[0] * k for _ in range(k)]
    for text, label in examples:
        confusion[index[label]][index[model.predict(text, evidence=0).label]] += 1
    classes = []
    for i, label in enumerate(model.labels):
        hit = confusion[i][i]
        predicted = sum(row[i] for row in confusion)
        support = sum(confusion[i])
        p = hit / predicted if predicted else 0.0
        r = hit / support if support else 0.0
        classes.append(ClassScore(label, p, r, 2 * p * r / (p + r) if p + r else 0.0, support))
    total = sum(c.support for c in classes)
    scored = [c for c in classes if c.support]
    return Report(
        classes=tuple(classes),
        accuracy=sum(confusion[i][i] for i in range(k)) / total if total else 0.0,
        macro_f1=sum(c.f1 for c in scored) / len(scored) if scored else 0.0,
        confusion=tuple(tuple(row) for row in confusion),
    )


def load_corpus(path: Path = CORPUS_PATH) -> list[Example]:
    """The labelled examples of a CSV with columns title, description, category,
    subject and split (train or test). Raises ValueError naming the bad line."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != _CSV_FIELDS:
            raise ValueError(f"{path}: columns must be {','.join(_CSV_FIELDS)}")
        examples = []
        for row in reader:
            values = [(row[k] or "").strip() for k in _CSV_FIELDS]
            if not all(values) or values[4] not in ("train", "test"):
                raise ValueError(f"{path}:{reader.line_num}: empty field or bad split")
            examples.append(Example(*values))
    return examples


def stratified_split(
    examples: Sequence[Example], test_fraction: float = 0.2, seed: int = 2025
) -> list[Example]:
    """`examples` with `split` redrawn: `test_fraction` of each category, chosen at random
    with a fixed seed, becomes "test". How the bundled corpus was split."""
    rng = random.Random(seed)
    test: set[int] = set()
    for category in sorted({e.category for e in examples}):
        members = [i for i, e in enumerate(examples) if e.category == category]
        test.update(rng.sample(members, round(len(members) * test_fraction)))
    return [
        Example(e.title, e.description, e.category, e.subject, "test" if i in test else "train")
        for i, e in enumerate(examples)
    ]


@dataclass(frozen=True, slots=True)
class Classifier:
    """The pair a dispatcher sees: a category model and a subject model."""

    category: Model
    subject: Model

    @classmethod
    def train(
        cls,
        examples: Iterable[Example],
        categories: Sequence[str] = CATEGORIES,
        subjects: Sequence[str] = SUBJECTS,
        category_options: Options = CATEGORY_OPTIONS,
        subject_options: Options = SUBJECT_OPTIONS,
    ) -> Classifier:
        """Both models fitted to `examples` (corpus and corrections alike, any split).

        A subject outside a configured `subjects` list counts as "other" when the list has
        it; a category outside `categories` raises ValueError.
        """
        rows = list(examples)
        fallback = "other" if "other" in subjects else None
        return cls(
            category=train(((e.text, e.category) for e in rows), categories, category_options),
            subject=train(
                ((e.text, e.subject) for e in rows), subjects, subject_options, unknown=fallback
            ),
        )

    def classify(self, title: str, description: str) -> tuple[Prediction, Prediction]:
        """(category, subject) of a topic; never raises for any text."""
        text = topic_text(title, description)
        size = self.category.options.max_chars
        grams = ngrams(text, size)  # one pass for both models when they read as far
        other = grams if self.subject.options.max_chars == size else None
        return (
            self.category._predict(text, grams, 5),
            self.subject._predict(text, other or ngrams(text, self.subject.options.max_chars), 5),
        )

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category.to_json(), "subject": self.subject.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Classifier:
        return cls(Model.from_json(data["category"]), Model.from_json(data["subject"]))
