from __future__ import annotations

import pytest

from server.topics.model import (
    Submission,
    TopicKind,
    clean_submission,
    format_number,
    mask_name,
    mask_phone,
    normalise_phone,
)

GOOD = {"title": "楼道灯坏了", "description": "三号楼二单元楼道灯坏了一个星期。", "kind": "demand"}


def test_clean_submission_trims_and_keeps_markup_as_typed() -> None:
    clean, errors = clean_submission(Submission(**{**GOOD, "title": "  <b>灯</b>坏了  "}))
    assert errors == {}
    assert clean is not None
    assert clean.title == "<b>灯</b>坏了"
    assert clean.kind is TopicKind.DEMAND


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "灯"}, "title"),
        ({"title": "长" * 61}, "title"),
        ({"description": "太短"}, "description"),
        ({"description": "长" * 2001}, "description"),
        ({"kind": "complaint"}, "kind"),
        ({"name": "名" * 31, "consent": True}, "name"),
        ({"phone": "12345"}, "phone"),
        ({"phone": "13812341234"}, "consent"),
        ({"name": "张三"}, "consent"),
    ],
)
def test_clean_submission_names_each_bad_field(overrides: dict[str, object], field: str) -> None:
    clean, errors = clean_submission(Submission(**{**GOOD, **overrides}))  # type: ignore[arg-type]
    assert clean is None
    assert field in errors


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("13812341234", "13812341234"),
        ("138 1234 1234", "13812341234"),
        ("+86 138-1234-1234", "13812341234"),
        ("0517-83651234", "051783651234"),
        ("12812341234", None),
        ("1381234123", None),
        ("phone", None),
    ],
)
def test_normalise_phone(raw: str, normal: str | None) -> None:
    assert normalise_phone(raw) == normal


def test_masks_never_show_the_whole_number_or_name() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("051783651234") == "051*****1234"
    assert mask_phone("") == ""
    assert mask_name("张三丰") == "张**"


def test_number_format() -> None:
    assert format_number("HA", 2026, 123) == "HA2026-000123"
