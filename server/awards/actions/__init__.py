"""Use cases of the awards feature (十佳百优): the only code that opens transactions."""

from server.awards.actions.nominations import (
    Nominated,
    accept_nomination,
    decline_nomination,
    nominate,
    nominate_self,
)
from server.awards.actions.publish import (
    AwardsView,
    Published,
    list_published,
    publish_awards,
    published_awards,
    round_detail,
)
from server.awards.actions.review import (
    RoundView,
    appoint_reviewer,
    close_review,
    generate_candidates,
    list_rounds,
    open_round,
    score_candidate,
    withdraw_candidate,
)

__all__ = [
    "AwardsView",
    "Nominated",
    "Published",
    "RoundView",
    "accept_nomination",
    "appoint_reviewer",
    "close_review",
    "decline_nomination",
    "generate_candidates",
    "list_published",
    "list_rounds",
    "nominate",
    "nominate_self",
    "open_round",
    "publish_awards",
    "published_awards",
    "round_detail",
    "score_candidate",
    "withdraw_candidate",
]
