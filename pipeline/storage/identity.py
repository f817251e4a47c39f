"""A unit is an identity, not a name (issue 25 item 5). The ledger records each file under the unit's name
as config spelt it then; when the clerk renames a unit and keeps the old name as an alias, that name still
means the same unit. Without this step the ledger held two units — its history split in two, and a month
reported before the rename and corrected after it counted twice in the district total.

So each time the ledger is opened for writing with a config, names the config no longer uses as a unit's
name but still knows (as an alias) are mapped to that unit's current name, in one transaction, and the
event log keeps every mapping (from, to). Nothing else changes: the form's typed 填报单位 is kept as typed."""
from __future__ import annotations

from datetime import datetime

from ..core.config import Config
from .ledger import Ledger

# (table, column) holding a canonical unit name; doc_numbers' unit is part of a unique key (UPDATE OR IGNORE
# keeps an earlier number of the same document under the old name where both exist).
UNIT_COLUMNS = (("arrivals", "unit"), ("arrivals", "folder_unit"), ("task_closes", "unit"), ("doc_numbers", "unit"))


def renamed_units(cfg: Config, ledger: Ledger) -> list[tuple[str, str]]:
    """(name in the ledger, the unit's name now) for every name config knows only as an alias now."""
    names = {u.name for u in cfg.units}
    found: set[str] = set()
    for table, column in UNIT_COLUMNS:
        found |= {n for (n,) in ledger.db.execute(f"SELECT DISTINCT {column} FROM {table} WHERE {column} <> ''")
                  if n is not None}
    out = []
    for old in sorted(found - names):
        unit = cfg.unit_named(old)
        if unit is not None and unit.name != old:
            out.append((old, unit.name))
    return out


def reconcile_unit_names(cfg: Config, ledger: Ledger, now: datetime) -> list[tuple[str, str]]:
    """Map old unit names to the current ones (see the module's text); returns what was mapped."""
    renames = renamed_units(cfg, ledger)
    if not renames:
        return []
    with ledger.transaction() as db:
        for old, new in renames:
            counts = {}
            for table, column in UNIT_COLUMNS:
                verb = "UPDATE OR IGNORE" if table == "doc_numbers" else "UPDATE"
                counts[f"{table}.{column}"] = db.execute(f"{verb} {table} SET {column} = ? WHERE {column} = ?",
                                                         (new, old)).rowcount
            ledger.event(db, "unit_renamed", now, None, {"from": old, "to": new, "rows": counts})
    return renames
