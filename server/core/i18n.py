"""Message catalogues: Simplified Chinese first, English available.

One JSON file per language in ``static/i18n/``, shared by the server's templates
and the pages' scripts so a string is translated once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
CATALOGUE_DIR = Path(__file__).resolve().parents[2] / "static" / "i18n"


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    data: dict[str, str] = json.loads((CATALOGUE_DIR / f"{lang}.json").read_text("utf-8"))
    return data


def pick_language(query: str | None, cookie: str | None) -> str:
    """Chinese unless the person chose English (the switch sets a cookie).

    The browser's Accept-Language is not used: many residents' phones are set to
    English while they expect the city's service in Chinese.
    """
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def translate(lang: str, key: str, **values: object) -> str:
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    return text.format(**values) if values else text
