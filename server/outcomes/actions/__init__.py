"""Use cases for outcomes, one module per area; this package re-exports them.

- minutes: drafting, editing and publishing a session's minutes and outcomes
- progress: handler outcomes of resolved topics, progress updates, outcome views
- evaluations: the public's ratings (评题), moderation of their comments, follow-up
"""

from server.outcomes.actions.evaluations import (
    Rated,
    held_comments,
    moderate_evaluation,
    rate_outcome,
)
from server.outcomes.actions.minutes import (
    MinutesView,
    OutcomeInput,
    get_minutes,
    public_minutes,
    publish_minutes,
    save_minutes,
)
from server.outcomes.actions.progress import (
    OutcomeRow,
    OutcomeView,
    add_progress,
    install,
    list_outcomes,
    outcome_for_number,
    outcome_for_topic,
    outcome_photo,
    public_outcome,
    staff_outcome,
)
from server.outcomes.actions.reminders import outcome_reminder_loop, run_outcome_reminders
from server.outcomes.actions.tracker import TrackerPage, outcome_tracker

__all__ = [
    "MinutesView",
    "OutcomeInput",
    "OutcomeRow",
    "OutcomeView",
    "Rated",
    "TrackerPage",
    "add_progress",
    "get_minutes",
    "held_comments",
    "install",
    "list_outcomes",
    "moderate_evaluation",
    "outcome_for_number",
    "outcome_for_topic",
    "outcome_photo",
    "outcome_reminder_loop",
    "outcome_tracker",
    "public_minutes",
    "public_outcome",
    "publish_minutes",
    "rate_outcome",
    "run_outcome_reminders",
    "save_minutes",
    "staff_outcome",
]
