"""The registry of the monthly obligations beyond the Annex 2 form (spec 9-12): the one place that names
them. Status, notices, the workbooks and merge loop over what `load_obligations` builds and ask each the
questions of documents/obligation.Obligation; a fourth obligation is one more package and one more entry
in OBLIGATIONS. Their order is the order of their columns, sections and sheets."""
from __future__ import annotations

import logging
from datetime import datetime

from ..core.config import Config
from ..core.months import Month
from ..documents.obligation import Obligation, Warn
from ..materials.obligation import MaterialsObligation
from ..storage.ledger import Ledger
from ..tasks.obligation import TasksObligation

OBLIGATIONS: tuple[type[Obligation], ...] = (MaterialsObligation, TasksObligation)


def load_obligations(cfg: Config, ledger: Ledger, month: Month, as_of: datetime,
                     warn: Warn | None = None) -> list[Obligation]:
    """The obligations tracked for `month` as of `as_of`, each with its month's states read once. One whose
    own inputs are broken is left out, said once through `warn` (default: the log)."""
    warn = warn or logging.getLogger("annex2").warning
    return [ob for kind in OBLIGATIONS if (ob := kind.load(cfg, ledger, month, as_of, warn)) is not None]
