"""A deliberately naive second implementation of RULES.md's read side, in plain loops.

It reads envelopes (the public record) and computes leaderboards, heatmap
cells and alignment figures the slow, obvious way, so the SQL projections
can be checked against it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Reference:
    def __init__(self, envelopes: list[dict[str, Any]]) -> None:
        self.tz: dict[str, str] = {}
        self.moves: dict[tuple[str, str], list[tuple[datetime, int, str]]] = defaultdict(list)
        self.revisions: dict[str, list[tuple[datetime, int, dict[str, float]]]] = defaultdict(list)
        self.awards: list[dict[str, Any]] = []
        for env in sorted(envelopes, key=lambda e: e["position"]):
            tenant, p, kind = env["tenant_id"], env["payload"], env["event_type"]
            if kind in ("TenantCreated", "TenantSettingsChanged"):
                self.tz[tenant] = p["settings"]["timezone"]
            elif kind == "MemberJoined":
                self.moves[(tenant, p["member_id"])].append(
                    (ts(p["joined_at"]), env["position"], p["team"])
                )
            elif kind == "MemberMoved":
                self.moves[(tenant, p["member_id"])].append(
                    (ts(p["effective_from"]), env["position"], p["team"])
                )
            elif kind == "StrategyRevised":
                self.revisions[tenant].append((ts(p["effective_from"]), p["version"], p["targets"]))
            elif kind == "PointsAwarded":
                self.awards.append(
                    {
                        "tenant": tenant,
                        "member": p["member_id"],
                        "points": p["points"],
                        "kind": p["kind"],
                        "values": p["values"],
                        "at": ts(p["occurred_at"]),
                    }
                )

    def local(self, tenant: str, moment: datetime) -> date:
        return moment.astimezone(ZoneInfo(self.tz[tenant])).date()

    def week(self, tenant: str, moment: datetime) -> date:
        day = self.local(tenant, moment)
        return day - timedelta(days=day.weekday())

    def month(self, tenant: str, moment: datetime) -> date:
        return self.local(tenant, moment).replace(day=1)

    def team_at(self, tenant: str, member: str, moment: datetime) -> str | None:
        team = None
        for effective_from, _, moved_to in sorted(self.moves[(tenant, member)]):
            if effective_from <= moment:
                team = moved_to
        return team

    def revision_at(self, tenant: str, moment: datetime) -> tuple[int, dict[str, float]] | None:
        found = None
        for effective_from, version, targets in sorted(self.revisions[tenant]):
            if effective_from <= moment:
                found = (version, targets)
        return found

    def leaderboard_weekly(self) -> set[tuple[Any, ...]]:
        scores: dict[tuple[str, date, str], int] = defaultdict(int)
        for a in self.awards:
            scores[(a["tenant"], self.week(a["tenant"], a["at"]), a["member"])] += a["points"]
        rows = set()
        for (tenant, week, member), points in scores.items():
            if points == 0:
                continue
            better = sum(
                1
                for (t2, w2, m2), p2 in scores.items()
                if t2 == tenant and w2 == week and p2 != 0 and p2 > points
            )
            rows.add((tenant, week, member, points, better + 1))
        return rows

    def heatmap(self) -> set[tuple[Any, ...]]:
        cells: dict[tuple[str, str | None, str, date], list[int]] = defaultdict(lambda: [0, 0])
        for a in self.awards:
            if a["kind"] == "adjustment":
                continue
            team = self.team_at(a["tenant"], a["member"], a["at"])
            for value in a["values"]:
                cell = cells[(a["tenant"], team, value, self.week(a["tenant"], a["at"]))]
                cell[0] += 1
                cell[1] += a["points"]
        return {(*key, c[0], c[1]) for key, c in cells.items()}

    def alignment(
        self, tenant: str, scope: str, team: str | None, period: str, start: date
    ) -> dict[str, Any] | None:
        mass_b: dict[str, float] = defaultdict(float)
        mass_t: dict[str, float] = defaultdict(float)
        pmass_b: dict[str, float] = defaultdict(float)
        pmass_t: dict[str, float] = defaultdict(float)
        n, total_points = 0, 0
        for a in self.awards:
            if a["tenant"] != tenant or a["kind"] == "adjustment":
                continue
            key = self.week if period == "week" else self.month
            if key(tenant, a["at"]) != start:
                continue
            if scope == "team" and self.team_at(tenant, a["member"], a["at"]) != team:
                continue
            revision = self.revision_at(tenant, a["at"])
            if revision is None:
                continue
            n += 1
            total_points += a["points"]
            for value in a["values"]:
                mass_b[value] += 1 / len(a["values"])
                pmass_b[value] += a["points"] / len(a["values"])
            for value, weight in revision[1].items():
                mass_t[value] += weight
                pmass_t[value] += a["points"] * weight
        if n == 0:
            return None
        b = {v: m / n for v, m in mass_b.items()}
        t = {v: m / n for v, m in mass_t.items()}
        bi = {v: m / total_points for v, m in pmass_b.items()}
        ti = {v: m / total_points for v, m in pmass_t.items()}
        values = sorted(set(b) | set(t))
        return {
            "behaviors": n,
            "score": 100 * (1 - jsd(t, b, values)),
            "incentive_score": 100 * (1 - jsd(ti, bi, values)),
            "coverage": sum(t.get(v, 0) for v in values if b.get(v, 0) > 0),
            "off_strategy_share": sum(b.get(v, 0) for v in values if t.get(v, 0) == 0),
            "values": {
                v: (t.get(v, 0.0), b.get(v, 0.0))
                for v in values
                if t.get(v, 0) > 0 or b.get(v, 0) > 0
            },
        }


def jsd(p: dict[str, float], q: dict[str, float], keys: list[str]) -> float:
    total = 0.0
    for k in keys:
        pk, qk = p.get(k, 0.0), q.get(k, 0.0)
        m = (pk + qk) / 2
        if pk > 0:
            total += 0.5 * pk * math.log2(pk / m)
        if qk > 0:
            total += 0.5 * qk * math.log2(qk / m)
    return min(1.0, max(0.0, total))
