"""Filters name things the tenant has: a typo is refused, not answered with nothing.

API.md: an unknown team, value, member or campaign in the parameters of a query or
catalog route is a 422 problem naming the parameter. Checked against the projection of
the present (what was ever known, retired or departed included), so a filter that
time-travels to before a team existed is still a filter, not a typo.
"""

from __future__ import annotations

import duckdb

from ledger.errors import Invalid

_LOOKUPS = {
    "team": ("team", "SELECT 1 FROM team_history WHERE tenant_id = $t AND team = $k LIMIT 1"),
    "value": ("value", "SELECT 1 FROM value_catalog WHERE tenant_id = $t AND value = $k"),
    "member_id": (
        "member",
        "SELECT 1 FROM member_profiles WHERE tenant_id = $t AND member_id = $k",
    ),
    "campaign_id": (
        "campaign",
        "SELECT 1 FROM campaigns WHERE tenant_id = $t AND campaign_id = $k",
    ),
    "mission_id": ("mission", "SELECT 1 FROM missions WHERE tenant_id = $t AND mission_id = $k"),
}


def require(con: duckdb.DuckDBPyConnection, tenant_id: str, **filters: str | None) -> None:
    """Refuse the first filter (by parameter name) that names nothing of the tenant's."""
    for field, key in filters.items():
        if key is None:
            continue
        what, sql = _LOOKUPS[field]
        if con.execute(sql, {"t": tenant_id, "k": key}).fetchone() is None:
            raise Invalid(f"no {what} {key!r} in this tenant", field=field)
