"""Signalling messages: each shape parses to its type, anything else is refused by code."""

from __future__ import annotations

from typing import Any

import pytest

from signaling.messages import (
    MAX_SDP,
    Bye,
    Candidate,
    MessageError,
    Mute,
    Offer,
    Spotlight,
    Switch,
    parse,
)


@pytest.mark.parametrize(
    ("data", "parsed"),
    [
        ({"op": "offer", "sdp": "v=0\r\n..."}, Offer("v=0\r\n...")),
        (
            {
                "op": "candidate",
                "candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host",
                "sdpMid": "0",
                "sdpMLineIndex": 0,
            },
            Candidate("candidate:1 1 udp 1 1.2.3.4 5 typ host", "0", 0),
        ),
        ({"op": "candidate", "candidate": ""}, Candidate("", None, None)),
        ({"op": "bye"}, Bye()),
        ({"op": "mute", "participant": "guest:3", "muted": True}, Mute("guest:3", True)),
        ({"op": "spotlight", "participant": None}, Spotlight(None)),
        ({"op": "spotlight", "participant": "staff:1"}, Spotlight("staff:1")),
        ({"op": "live", "on": True}, Switch("live", True)),
        ({"op": "record", "on": False}, Switch("record", False)),
    ],
)
def test_each_message_parses_to_its_type(data: dict[str, Any], parsed: object) -> None:
    assert parse(data) == parsed


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ("offer", "bad_request"),
        ({"op": "dance"}, "unknown_op"),
        ({"op": "offer"}, "bad_sdp"),
        ({"op": "offer", "sdp": "hello"}, "bad_sdp"),
        ({"op": "offer", "sdp": "v=0" + "x" * MAX_SDP}, "bad_sdp"),
        ({"op": "candidate", "candidate": "a=candidate:1", "sdpMid": "0"}, "bad_candidate"),
        (
            {"op": "candidate", "candidate": "candidate:" + "1" * 2000, "sdpMid": "0"},
            "bad_candidate",
        ),
        ({"op": "candidate", "candidate": "candidate:1 1 udp"}, "bad_candidate"),
        ({"op": "candidate", "candidate": "candidate:1", "sdpMLineIndex": True}, "bad_candidate"),
        ({"op": "candidate", "candidate": "candidate:1", "sdpMLineIndex": 99}, "bad_candidate"),
        ({"op": "candidate", "candidate": "candidate:1", "sdpMid": 5}, "bad_candidate"),
        ({"op": "mute", "participant": "g", "muted": "yes"}, "bad_request"),
        ({"op": "mute", "participant": "", "muted": True}, "bad_request"),
        ({"op": "spotlight", "participant": 7}, "bad_request"),
        ({"op": "live", "on": 1}, "bad_request"),
    ],
)
def test_malformed_messages_are_refused_by_code(data: Any, code: str) -> None:
    with pytest.raises(MessageError) as caught:
        parse(data)
    assert caught.value.code == code
