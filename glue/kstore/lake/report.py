"""What one export of a dataset did: per window, what production held, what the object holds,
its size and sha256, and why it is not verified (None: verified); per dataset, the summary
line `kstore export` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from kstore.lake.manifest import Stats
from kstore.lake.windows import Window


@dataclass
class WindowResult:
    window: Window
    key: str
    expected: Stats
    found: Stats
    byte_count: int | None = None
    checksum: str | None = None
    reason: str | None = None

    @property
    def verified(self) -> bool:
        return self.reason is None


@dataclass
class ExportReport:
    dataset: str
    closed_until: datetime | None = None
    marked: int = 0
    windows: list[WindowResult] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0

    @property
    def verified(self) -> int:
        return sum(result.verified for result in self.windows)

    @property
    def failed(self) -> list[WindowResult]:
        return [result for result in self.windows if not result.verified]

    @property
    def rows(self) -> int:
        return sum(result.found.rows for result in self.windows if result.verified)

    @property
    def bytes(self) -> int:
        return sum(result.byte_count or 0 for result in self.windows if result.verified)

    def line(self) -> str:
        if self.skipped:
            return f"{self.dataset}: skipped ({self.skipped})"
        until = f"closed until {self.closed_until:%Y-%m-%d %H:%M:%S}Z" if self.closed_until \
            else "nothing closed yet"
        text = (f"{self.dataset}: {len(self.windows)} window(s) exported, {self.verified} "
                f"verified, {self.rows:,} rows, {self.bytes / 1e6:.1f} MB, {until}")
        if self.marked:
            text += f", {self.marked} re-opened by changed rows"
        return text + "".join(f"\n  NOT verified {r.key}: {r.reason}" for r in self.failed)
