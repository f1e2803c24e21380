"""Kalshi REST v2 reads within a request budget: signed, paced, retried, paginated.

Guarantees: never more than `rate` requests per second on average (token bucket, burst of one
second's worth); 429 and 5xx are retried with exponential backoff and jitter; any other 4xx is
an error that names the path and status.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import httpx

from kstore.kalshi_auth import load_private_key, sign_headers
from kstore.settings import KalshiSettings

RETRIES = 6


class ExchangeError(RuntimeError):
    """The exchange refused a request for good (auth, bad request, not found)."""


class TokenBucket:
    def __init__(self, rate: float, capacity: float | None = None):
        self.rate = rate
        self.capacity = capacity or max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()

    async def acquire(self) -> None:
        while True:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await asyncio.sleep((1 - self.tokens) / self.rate)


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
    def __init__(self, kalshi: KalshiSettings, rate: float):
        self.base_path = urlparse(kalshi.rest_url).path.rstrip("/")
        self.client = httpx.AsyncClient(base_url=kalshi.rest_url.rstrip("/"), timeout=10.0)
        self.bucket = TokenBucket(rate)
        self.sign = signer(kalshi)
        self.requests = 0

    async def close(self) -> None:
        await self.client.aclose()

    async def get(self, path: str, params: dict | None = None) -> dict:
        for attempt in range(RETRIES):
            await self.bucket.acquire()
            self.requests += 1
            try:
                response = await self.client.get(
                    path, params=params, headers=self.sign("GET", self.base_path + path))
            except httpx.TransportError:
                await _backoff(attempt)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                await _backoff(attempt)
                continue
            if response.status_code >= 400:
                raise ExchangeError(
                    f"GET {self.base_path}{path}: HTTP {response.status_code} "
                    f"{response.text[:200].strip()}")
            return response.json()
        raise ExchangeError(f"GET {self.base_path}{path}: no answer after {RETRIES} tries")

    async def pages(self, path: str, key: str, params: dict | None = None,
                    limit: int = 1000) -> AsyncIterator[dict]:
        """Every item of a cursor-paginated list."""
        query = dict(params or {}, limit=limit)
        while True:
            page = await self.get(path, query)
            for item in page.get(key) or []:
                yield item
            cursor = page.get("cursor")
            if not cursor:
                return
            query["cursor"] = cursor


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(min(30.0, 0.2 * 2 ** attempt) * (0.5 + random.random()))
