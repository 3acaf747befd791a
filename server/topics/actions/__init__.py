"""Use cases for topics, one module per area; this package re-exports them.

- intake: raising topics (征题), tracking links, the room page
- queue: the staff queue and one topic in full
- workflow: moving topics between states (解题), merging duplicates
"""

from server.topics import store
from server.topics.actions.classification import (
    TrainingResult,
    classifier,
    correct_classification,
    train_classifier,
)
from server.topics.actions.common import STAFF_NAMESPACE, StaffTopic, region_room, unit_room
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
from server.topics.actions.routing import RuleView, delete_rule, list_rules, set_rule
from server.topics.actions.similarity import (
    ClusterView,
    SimilarTopic,
    similar_for_topic,
    topic_clusters,
)
from server.topics.actions.workflow import (
    AGENDA_STATES,
    AgendaTopic,
    RouteOutcome,
    TopicMove,
    agenda_topics,
    merge_topic,
    move_for_deliberation,
    move_in_transaction,
    move_topic,
    publish_moves,
    route_topic,
    route_topics,
    suggest_unit,
)

__all__ = [
    "AGENDA_STATES",
    "STAFF_NAMESPACE",
    "AgendaTopic",
    "ClusterView",
    "FollowedTopic",
    "NewTopic",
    "PublicEvent",
    "PublicTopic",
    "RoomPageView",
    "RouteOutcome",
    "RuleView",
    "SimilarTopic",
    "StaffEvent",
    "StaffTopic",
    "SubmittedTopic",
    "TopicDetail",
    "TopicList",
    "TopicMove",
    "TrackedTopic",
    "TrainingResult",
    "Upload",
    "agenda_topics",
    "classifier",
    "correct_classification",
    "delete_rule",
    "list_rules",
    "list_topics",
    "merge_topic",
    "move_for_deliberation",
    "move_in_transaction",
    "move_topic",
    "publish_moves",
    "region_room",
    "room_page",
    "route_topic",
    "route_topics",
    "set_rule",
    "similar_for_topic",
    "staff_photo",
    "store",
    "submit_topic",
    "suggest_unit",
    "topic_clusters",
    "topic_detail",
    "track_topic",
    "tracked_photo",
    "tracking_url",
    "train_classifier",
    "unit_room",
]
