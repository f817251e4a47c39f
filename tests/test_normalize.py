"""Cell values as units type them (spec section 6)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.core.normalize import count, looks_like_phone, rate
from pipeline.reading.locate import sector_for


@pytest.mark.parametrize("raw,expected", [
    (None, 0), ("", 0), ("  ", 0), ("/", 0), ("—", 0), ("-", 0), ("无", 0), ("－", 0), ("——", 0),
    (3, 3), (3.0, 3), ("3", 3), (" 3 ", 3), ("１２", 12), ("１　２", 12), ("1,234", 1234), ("１，２３４", 1234),
    ("3项", 3), ("12人次", 12), ("5家", 5), ("2个", 2), ("３项", 3), ("2.5", 2.5), ("-1", -1),
])
def test_counts(raw, expected):
    assert count(raw).value == expected


@pytest.mark.parametrize("raw", ["若干", "3-4", "约10", "TRUE", "1,23", "五"])
def test_text_that_is_not_a_number_is_never_zero(raw):
    parsed = count(raw)
    assert parsed.value is None and parsed.problem == "不是数字"


def test_dates_and_booleans_are_not_counts():
    from datetime import date

    assert count(date(2023, 5, 1)).value is None
    assert count(True).value is None


@pytest.mark.parametrize("raw,expected", [
    ("85%", 85), ("８５％", 85), (0.85, 85), (85, 85), ("85", 85), ("0.85", 85), (1, 100), ("100%", 100),
    ("—", None), ("", None), (None, None), ("/", None), (66.7, 66.7),
])
def test_rates(raw, expected):
    assert rate(raw).value == pytest.approx(expected) if expected is not None else rate(raw).value is None


@pytest.mark.parametrize("raw,key", [
    ("1 建设领域", "construction"), ("1.建设领域", "construction"), ("一、建设领域", "construction"),
    ("（1）建设领域", "construction"), ("2.烟花爆竹安全", "fireworks"), ("烟花爆竹", "fireworks"),
    ("3.交通\n安全", "traffic"), ("文体旅游", "culture_tourism"), ("自然灾害防治", "natural_disaster"),
    ("其它", "other"), ("7.其他", "other"), ("合 计", "total"), ("总计", "total"), ("合计", "total"),
    ("１．建设领域", "construction"),
])
def test_sector_labels(raw, key):
    assert sector_for(raw) == key


@pytest.mark.parametrize("raw,ok", [
    ("13786027232", True), (13786027232.0, True), ("0730-8451234", True), ("(0730)8451234", True),
    ("8451234", True), ("+86 137 8602 7232", True), ("0730-8451234转8001", True),
    ("", False), ("找办公室", False), ("123", False), ("abc", False),
])
def test_phone_numbers(raw, ok):
    assert looks_like_phone(raw) is ok


cell_text = st.one_of(
    st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet="0123456789０１２３,，.％%项人次家个 　/—-无若干", max_size=10), st.text(max_size=6),
)


@given(cell_text)
def test_normalizing_a_count_twice_changes_nothing(raw):
    once = count(raw)
    if once.value is not None:
        assert count(once.value) == once


def percent_text(value: float) -> str:
    """A normalized rate written back unambiguously: a bare number ≤ 1 would read as a fraction."""
    return f"{value!r}%"


@given(cell_text)
def test_normalizing_a_rate_twice_changes_nothing(raw):
    # A normalized rate is per cent; written back it carries its `%` (0.5 alone would read as 50 %).
    once = rate(raw)
    if once.value is not None:
        assert rate(percent_text(once.value)) == once
