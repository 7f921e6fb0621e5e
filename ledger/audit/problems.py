"""What `ledger verify` reports: one problem per bad event, named by its position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = (
    "tampered",
    "missing",
    "inserted",
    "reordered",
    "award_differs",
    "digest_mismatch",
)


@dataclass(frozen=True)
class Problem:
    kind: str
    position: int
    aggregate_id: str
    detail: str
    tenant_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "position": self.position,
            "aggregate_id": self.aggregate_id,
            "detail": self.detail,
        }
