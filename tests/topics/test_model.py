from __future__ import annotations

import pytest

from server.topics.model import (
    OPEN_STATES,
    TRANSITIONS,
    InvalidTransition,
    Rule,
    Submission,
    TopicKind,
    TopicStatus,
    clean_submission,
    format_number,
    mask_name,
    mask_phone,
    normalise_phone,
    pick_rule,
    transition,
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


ALLOWED = {
    ("submitted", "accepted"),
    ("submitted", "rejected"),
    ("submitted", "merged"),
    ("accepted", "dispatched"),
    ("accepted", "rejected"),
    ("accepted", "merged"),
    ("dispatched", "assigned"),
    ("dispatched", "rejected"),
    ("dispatched", "merged"),
    ("assigned", "handling"),
    ("assigned", "escalated"),
    ("assigned", "dispatched"),
    ("assigned", "merged"),
    ("handling", "resolved"),
    ("handling", "escalated"),
    ("handling", "merged"),
    ("escalated", "scheduled"),
    ("escalated", "implementing"),
    ("escalated", "resolved"),
    ("escalated", "merged"),
    ("scheduled", "deliberated"),
    ("scheduled", "escalated"),
    ("deliberated", "implementing"),
    ("deliberated", "resolved"),
    ("implementing", "resolved"),
    ("resolved", "reopened"),
    ("reopened", "handling"),
    ("reopened", "escalated"),
}
EVERY_MOVE = [(a, b) for a in TopicStatus for b in TopicStatus]


@pytest.mark.parametrize(("current", "target"), EVERY_MOVE)
def test_workflow_allows_exactly_the_listed_moves(
    current: TopicStatus, target: TopicStatus
) -> None:
    if (current.value, target.value) in ALLOWED:
        assert transition(current, target) is target
    else:
        with pytest.raises(InvalidTransition) as caught:
            transition(current, target)
        assert f"from {current} to {target}" in str(caught.value)
        assert caught.value.current is current


def test_finished_topics_say_so_and_never_resolved_ones_cannot_reopen() -> None:
    with pytest.raises(InvalidTransition, match="none \\(it is finished\\)"):
        transition(TopicStatus.MERGED, TopicStatus.REOPENED)
    for state in TopicStatus:
        if state is not TopicStatus.RESOLVED:
            with pytest.raises(InvalidTransition):
                transition(state, TopicStatus.REOPENED)


def test_every_open_state_can_reach_resolution() -> None:
    reachable = {TopicStatus.SUBMITTED}
    frontier = [TopicStatus.SUBMITTED]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(TopicStatus)
    for state in OPEN_STATES:
        seen, todo = {state}, [state]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        assert TopicStatus.RESOLVED in seen or TopicStatus.MERGED in seen, state


def test_the_most_specific_routing_rule_wins() -> None:
    county_any = Rule(1, "", "", unit_id=1)
    county_petitions = Rule(1, "petition", "", unit_id=2)
    county_housing = Rule(1, "", "housing", unit_id=3)
    county_petition_housing = Rule(1, "petition", "housing", unit_id=4)
    town_any = Rule(2, "", "", unit_id=5)
    rules = [county_any, county_petitions, county_housing, county_petition_housing]
    assert pick_rule(rules, category="petition", subject="housing") is county_petition_housing
    assert pick_rule(rules, category="petition", subject="education") is county_petitions
    assert pick_rule(rules, category="opinion", subject="housing") is county_housing
    assert pick_rule(rules, category=None, subject=None) is county_any
    assert pick_rule([*rules, town_any], category="petition", subject="housing") is town_any
    assert pick_rule([county_petitions], category="legal", subject=None) is None
    assert pick_rule([], category="legal", subject="housing") is None
