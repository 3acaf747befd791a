from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from pathlib import Path

import pytest

from server.topics.classify import (
    CATEGORIES,
    CATEGORY_OPTIONS,
    SUBJECT_OPTIONS,
    SUBJECTS,
    Classifier,
    Example,
    Model,
    evaluate,
    load_corpus,
    stratified_split,
    topic_text,
    train,
)


@pytest.fixture(scope="module")
def corpus() -> list[Example]:
    return load_corpus()


@pytest.fixture(scope="module")
def held_out(corpus: list[Example]) -> list[Example]:
    return [e for e in corpus if e.split == "test"]


@pytest.fixture(scope="module")
def classifier(corpus: list[Example]) -> Classifier:
    return Classifier.train(e for e in corpus if e.split == "train")


def test_corpus_meets_the_size_and_coverage_rules(corpus: list[Example]) -> None:
    assert len(corpus) >= 660
    assert len({e.text for e in corpus}) == len(corpus), "duplicate topics"
    categories = Counter(e.category for e in corpus)
    subjects = Counter(e.subject for e in corpus)
    assert set(categories) == set(CATEGORIES)
    assert set(subjects) == set(SUBJECTS)
    assert min(categories.values()) >= 150
    assert min(subjects.values()) >= 40
    for e in corpus:
        assert 10 <= len(e.title) + len(e.description) <= 200, e.title
        assert 4 <= len(e.title) <= 60, e.title  # what intake itself accepts


def test_held_out_split_is_a_fifth_of_each_category(corpus: list[Example]) -> None:
    for category in CATEGORIES:
        members = [e for e in corpus if e.category == category]
        share = sum(e.split == "test" for e in members) / len(members)
        assert 0.18 <= share <= 0.22, (category, share)


def test_stratified_split_is_reproducible(corpus: list[Example]) -> None:
    again = stratified_split(corpus, 0.2, seed=2025)
    assert [e.split for e in again] == [e.split for e in corpus]
    assert [e.split for e in stratified_split(corpus, 0.2, seed=1)] != [e.split for e in corpus]


def test_load_corpus_refuses_a_wrong_header(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("title,description,category\n灯坏了,楼道灯坏了一周,petition\n", "utf-8")
    with pytest.raises(ValueError, match="columns must be"):
        load_corpus(path)


def test_load_corpus_refuses_an_empty_label(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "title,description,category,subject,split\n灯坏了,楼道灯坏了一周,,other,train\n", "utf-8"
    )
    with pytest.raises(ValueError, match=r"bad.csv:2"):
        load_corpus(path)


def test_training_is_deterministic(corpus: list[Example], classifier: Classifier) -> None:
    again = Classifier.train(e for e in corpus if e.split == "train")
    assert json.dumps(again.to_json(), sort_keys=True) == json.dumps(
        classifier.to_json(), sort_keys=True
    )


def test_held_out_category_macro_f1_meets_the_target(
    classifier: Classifier, held_out: list[Example]
) -> None:
    report = evaluate(classifier.category, [(e.text, e.category) for e in held_out])
    print("\ncategory, held-out split\n" + report.format())
    assert report.macro_f1 >= 0.85
    assert all(c.support > 0 for c in report.classes)


def test_held_out_subject_macro_f1_does_not_regress(
    classifier: Classifier, held_out: list[Example]
) -> None:
    report = evaluate(classifier.subject, [(e.text, e.subject) for e in held_out])
    print("\nsubject, held-out split\n" + report.format())
    # Ten subjects from ~65 training examples each: 0.78 on this split, 0.69 on another seed
    # and in cross-validation (corpus/README.md). A guard against losing it, not a target.
    assert report.macro_f1 >= 0.6


def test_report_counts_every_prediction_once() -> None:
    model = train(
        [("物业不修电梯", "petition"), ("建议多种树", "opinion")], ["petition", "opinion"]
    )
    report = evaluate(model, [("物业不修电梯", "petition"), ("建议多种树", "opinion")])
    assert report.confusion == ((1, 0), (0, 1))
    assert report.accuracy == 1.0
    assert report.macro_f1 == 1.0
    table = report.format()
    assert "petition" in table and "opinion" in table and "macro-F1" in table


def test_predictions_carry_confidence_and_evidence_from_the_text(
    classifier: Classifier, held_out: list[Example]
) -> None:
    for e in held_out:
        text = topic_text(e.title, e.description)
        category, subject = classifier.classify(e.title, e.description)
        assert category.label in CATEGORIES
        assert subject.label in SUBJECTS
        for p in (category, subject):
            assert 0.0 <= p.confidence <= 1.0
            assert p.evidence, (e.title, p)
            for phrase in p.evidence:
                assert len(phrase) >= 2 and phrase in text, (phrase, text)


def test_evidence_names_the_telling_words(classifier: Classifier) -> None:
    category, subject = classifier.classify(
        "公司拖欠工资", "在厂里干了半年，老板一直拖欠工资，我想申请劳动仲裁，请问要带什么材料？"
    )
    assert (category.label, subject.label) == ("legal", "employment")
    assert any("仲裁" in phrase for phrase in category.evidence), category.evidence
    assert any("工资" in phrase for phrase in subject.evidence), subject.evidence


def test_confidence_is_calibrated_not_saturated(
    classifier: Classifier, held_out: list[Example]
) -> None:
    confidences = [classifier.subject.predict(e.text).confidence for e in held_out]
    assert classifier.subject.temperature > 1.0
    assert min(confidences) < 0.6  # an unsure case says so
    assert statistics.mean(confidences) < 0.95


def test_json_round_trip_gives_identical_predictions(
    classifier: Classifier, held_out: list[Example]
) -> None:
    loaded = Classifier.from_json(json.loads(json.dumps(classifier.to_json())))
    for e in held_out:
        assert loaded.classify(e.title, e.description) == classifier.classify(
            e.title, e.description
        )


def test_from_json_refuses_another_format(classifier: Classifier) -> None:
    data = {**classifier.category.to_json(), "format": "something/2"}
    with pytest.raises(ValueError, match="format"):
        Model.from_json(data)


@pytest.mark.parametrize(
    ("title", "description"),
    [
        ("", ""),
        ("   ", "\n\t"),
        ("😀😀😀", "ꙮꙮꙮ ሰላም 🚗🚗"),
        ("ＫＴＶ扰民", "１２３４５６７８９０！！！"),
        ("x" * 70, "長" * 5000),
    ],
)
def test_unseen_or_empty_text_does_not_crash(
    classifier: Classifier, title: str, description: str
) -> None:
    category, subject = classifier.classify(title, description)
    assert category.label in CATEGORIES and subject.label in SUBJECTS
    for p in (category, subject):
        assert 0.0 <= p.confidence <= 1.0
        assert all(phrase in topic_text(title, description) for phrase in p.evidence)


def test_empty_text_falls_back_to_the_priors(classifier: Classifier) -> None:
    category, _ = classifier.classify("", "")
    assert category.evidence == ()
    assert category.confidence < 0.5  # three categories, no words: no real opinion


def test_a_correction_shifts_a_borderline_prediction(corpus: list[Example]) -> None:
    training = [e for e in corpus if e.split == "train"]
    model = train(((e.text, e.subject) for e in training), SUBJECTS, SUBJECT_OPTIONS)
    text = topic_text("小区门口路灯坏了", "晚上黑乎乎的，老人出门不方便，麻烦看一下")
    before = model.probabilities(text)
    ranked = sorted(before, key=lambda label: -before[label])
    assert before[ranked[0]] < 0.9, before  # borderline: the model is not sure
    corrected = ranked[1]
    # A dispatcher relabels the topic, and one more like it, as the runner-up.
    corrections = [
        (text, corrected),
        (topic_text("楼前的路灯不亮了", "一到晚上就黑，走路要打手电筒"), corrected),
    ]
    retrained = train(
        [*((e.text, e.subject) for e in training), *corrections], SUBJECTS, SUBJECT_OPTIONS
    )
    after = retrained.probabilities(text)
    assert after[corrected] > before[corrected]
    assert retrained.predict(text).label == corrected
    unrelated = topic_text("医保报销太慢", "住院费用报销材料交了三个月还没到账")
    assert retrained.predict(unrelated).label == model.predict(unrelated).label


def test_train_refuses_labels_outside_the_list() -> None:
    with pytest.raises(ValueError, match="not among"):
        train([("建议多种树", "opinion"), ("物业不修电梯", "petition")], ["opinion"])
    with pytest.raises(ValueError, match="no examples"):
        train([("建议多种树", "opinion")], ["opinion", "legal"])


def test_a_configured_subject_list_folds_the_rest_into_other(corpus: list[Example]) -> None:
    subjects = ("housing", "education", "other")
    small = Classifier.train(
        (e for e in corpus if e.split == "train"),
        subjects=subjects,
        category_options=CATEGORY_OPTIONS,
    )
    assert small.subject.labels == subjects
    _, subject = small.classify("物业费涨价", "物业公司不开业主大会就把物业费涨了一半")
    assert subject.label == "other"
    _, subject = small.classify("学区划分不合理", "孩子上学被划到五公里外的学校")
    assert subject.label == "education"


def test_one_topic_is_classified_within_two_milliseconds(
    classifier: Classifier, held_out: list[Example]
) -> None:
    long = "".join(e.description for e in held_out)[:2000]
    topics = [(e.title, e.description) for e in held_out] + [("很长的诉求", long)] * 20
    timings = []
    for title, description in topics * 3:
        start = time.perf_counter()
        classifier.classify(title, description)
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.002, statistics.median(timings)
