"""The cumulative-increment rule exists twice: history.increments (scalar, one unit's series, used by the
history rules at intake) and Dataset.increments (vectorised, every unit, used by the workbooks). Random
series must give the same increments through both, and the ones the test built them from."""
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.months import Month
from pipeline.monthly.dataset import COUNT_KEYS, SECTOR_KEYS, Dataset
from pipeline.statistics.history import increments

# A unit's year: for each month, what it found that month (its increment), and whether it reported.
months_of_a_year = st.lists(st.tuples(st.integers(0, 50), st.booleans()), min_size=12, max_size=12)


def cumulative_reports(year, plan):
    """(month, cumulative count) for the months reported, and the increments expected by hand: the sum of
    what was found since the previous report of the same year (from January for the first), over its span."""
    reports, expected, total, last = [], [], 0, 0
    for month, (found, reported) in enumerate(plan, start=1):
        total += found
        if reported:
            reports.append((Month(year, month), total))
            expected.append((Month(year, month), month - last, sum(f for f, _ in plan[last:month])))
            last = month
    return reports, expected


@settings(max_examples=60, deadline=None)
@given(st.lists(months_of_a_year, min_size=1, max_size=2), st.sampled_from(SECTOR_KEYS),
       st.sampled_from(COUNT_KEYS))
def test_scalar_and_vectorised_increments_agree(years, sector, metric):
    expected, rows, series = [], [], []
    for year, plan in zip((2023, 2024), years):
        reports, exp = cumulative_reports(year, plan)
        expected += exp
        for month, cumulative in reports:
            counts = {s: {k: 0 for k in COUNT_KEYS} for s in SECTOR_KEYS}
            counts[sector][metric] = cumulative
            series.append((month, counts))
            for s in SECTOR_KEYS:
                rows.append({"unit": "甲", "year": month.year, "month_from": 1, "month_to": month.month,
                             "sector": s, **counts[s]})
    scalar = [(i.month, i.span, i.value) for i in increments(series, sector, metric)]
    assert scalar == expected

    frame = pd.DataFrame(rows, columns=["unit", "year", "month_from", "month_to", "sector", *COUNT_KEYS])
    inc = Dataset(None, frame, pd.DataFrame()).increments()
    mine = inc[inc["sector"] == sector]
    vectorised = [(Month(int(y), int(m)), int(span), int(v))
                  for y, m, span, v in zip(mine["year"], mine["month"], mine["span"], mine[metric])]
    assert vectorised == expected


def test_a_skipped_month_spans_both_worked_by_hand():
    # January 3, (February not reported), March 10: the March increment covers two months and is 7.
    counts = lambda n: {"traffic": {"major_hazards": n}}  # noqa: E731
    steps = increments([(Month(2023, 3), counts(10)), (Month(2023, 1), counts(3))], "traffic", "major_hazards")
    assert [(s.month, s.span, s.value) for s in steps] == [(Month(2023, 1), 1, 3), (Month(2023, 3), 2, 7)]
