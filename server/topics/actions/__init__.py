"""Use cases for topics, one module per area; this package re-exports them.

- intake: raising topics (征题), tracking links, the room page
- queue: the staff queue and one topic in full
- workflow: moving topics between states (解题), merging duplicates
"""

from server.topics import store
from server.topics.actions.common import STAFF_NAMESPACE, StaffTopic, region_room
from server.topics.actions.intake import (
    FollowedTopic,
    NewTopic,
    PublicEvent,
    PublicTopic,
    RoomPageView,
    SubmittedTopic,
    TrackedTopic,
    Upload,
    room_page,
    submit_topic,
    track_topic,
    tracked_photo,
    tracking_url,
)
from server.topics.actions.queue import (
    StaffEvent,
    TopicDetail,
    TopicList,
    list_topics,
    staff_photo,
    topic_detail,
)
from server.topics.actions.workflow import merge_topic, move_topic

__all__ = [
    "STAFF_NAMESPACE",
    "FollowedTopic",
    "NewTopic",
    "PublicEvent",
    "PublicTopic",
    "RoomPageView",
    "StaffEvent",
    "StaffTopic",
    "SubmittedTopic",
    "TopicDetail",
    "TopicList",
    "TrackedTopic",
    "Upload",
    "list_topics",
    "merge_topic",
    "move_topic",
    "region_room",
    "room_page",
    "staff_photo",
    "store",
    "submit_topic",
    "topic_detail",
    "track_topic",
    "tracked_photo",
    "tracking_url",
]
