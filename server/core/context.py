"""What actions need from the outside world, passed in explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.core.clock import Clock
from server.core.db import Database
from server.core.files import FileStore
from server.core.hooks import Hooks
from server.core.notifier import Notifier
from server.core.ratelimit import RateLimiter
from server.settings import Settings


@dataclass(frozen=True, slots=True)
class Context:
    settings: Settings
    db: Database
    clock: Clock
    notifier: Notifier
    limiter: RateLimiter
    files: FileStore
    hooks: Hooks = field(default_factory=Hooks)
