"""Kalshi REST v2 reads within the process's budget: signed, paced, retried, paginated.

Guarantees: every request, retries included, waits for its turn in the shared `Budget`
(kstore.budget: paced, registry before reconcile before books); a 429 pauses the whole budget
with exponential backoff and is counted there; 5xx and transport errors are retried with
backoff and jitter; any other 4xx is an error that names the path and status.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import httpx

from kstore.budget import REGISTRY, Budget
from kstore.kalshi_auth import load_private_key, sign_headers
from kstore.settings import KalshiSettings

RETRIES = 6


class ExchangeError(RuntimeError):
    """The exchange refused a request for good (auth, bad request, not found)."""


def signer(kalshi: KalshiSettings):
    """A function path -> signed headers, or one returning {} when no key is configured."""
    pem = kalshi.private_key
    if pem is None and kalshi.private_key_file is not None:
        pem = kalshi.private_key_file.read_text()
    if not (kalshi.key_id and pem):
        return lambda method, path: {}
    key = load_private_key(pem)
    return lambda method, path: sign_headers(kalshi.key_id, key, method, path)


class RestClient:
    def __init__(self, kalshi: KalshiSettings, budget: Budget):
        self.base_path = urlparse(kalshi.rest_url).path.rstrip("/")
        self.client = httpx.AsyncClient(base_url=kalshi.rest_url.rstrip("/"), timeout=10.0)
        self.budget = budget
        self.sign = signer(kalshi)
        self.requests = 0

    async def close(self) -> None:
        await self.client.aclose()

    async def get(self, path: str, params: dict | None = None, priority: int = REGISTRY) -> dict:
        last = "no attempt"
        for attempt in range(RETRIES):
            await self.budget.acquire(priority)
            self.requests += 1
            try:
                response = await self.client.get(
                    path, params=params, headers=self.sign("GET", self.base_path + path))
            except httpx.TransportError as exc:
                last = str(exc) or type(exc).__name__
                await _backoff(attempt)
                continue
            if response.status_code == 429:
                self.budget.throttled()  # the next grant waits: no sleep of our own
                last = "HTTP 429"
                continue
            self.budget.answered()
            if response.status_code >= 500:
                last = f"HTTP {response.status_code}"
                await _backoff(attempt)
                continue
            if response.status_code >= 400:
                raise ExchangeError(
                    f"GET {self.base_path}{path}: HTTP {response.status_code} "
                    f"{response.text[:200].strip()}")
            return response.json()
        url = str(self.client.base_url).rstrip("/") + path
        raise ExchangeError(f"GET {url}: no answer after {RETRIES} tries "
                            f"(last: {last})")

    async def pages(self, path: str, key: str, params: dict | None = None,
                    limit: int = 1000, priority: int = REGISTRY) -> AsyncIterator[dict]:
        """Every item of a cursor-paginated list."""
        query = dict(params or {}, limit=limit)
        while True:
            page = await self.get(path, query, priority)
            for item in page.get(key) or []:
                yield item
            cursor = page.get("cursor")
            if not cursor:
                return
            query["cursor"] = cursor


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(min(30.0, 0.2 * 2 ** attempt) * (0.5 + random.random()))
