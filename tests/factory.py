"""The tests build their workbooks with the package's own generator (also used by the demo and benchmarks)."""
from pipeline.samples import (  # noqa: F401
    ALL_ORDER, COUNT_ORDER, HEADERS, LABELS, SAMPLE, SAMPLE_TOTAL, SECTOR_ORDER, UNITS, make_submission,
    sample_values,
)
