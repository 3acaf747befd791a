"""Outgoing webhooks: a JSON POST, signed so the receiver can trust it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

import aiohttp

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Mashangyi-Signature"


def signature(secret: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of the body under the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    secret: str = "",
    attempts: int = 3,
    timeout_s: float = 5.0,
    backoff: float = 1.0,
) -> bool:
    """POST ``payload``; retry on connection errors and 5xx. True once delivered.

    Never raises: a receiver that is down must not stop what sent the hook. Failures
    are logged with the URL and the last error.
    """
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    error = ""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http:
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
            try:
                async with http.post(url, data=body, headers=headers) as response:
                    if response.status < 300:
                        return True
                    error = f"HTTP {response.status}"
                    if response.status < 500:
                        break  # the receiver refuses it; sending again will not help
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = repr(exc)
    log.warning("webhook to %s failed: %s", url, error)
    return False
