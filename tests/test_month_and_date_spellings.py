"""Months and moments as a clerk types them: every usual spelling of a month and a date means what it says,
and what is not one is said in Chinese."""
import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from pipeline.cli.commands import cli
from pipeline.core.clock import BadMoment, normalize_moment
from pipeline.core.months import BadMonth, Month


def run(*args, **kw):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="annex2", **kw)


@pytest.mark.parametrize("text", ["2023-05", "2023-5", "2023/5", "2023/05", "2023.5", "202305", "2023年5月",
                                  "2023年05月", "2023年5月份", " 2023 年 5 月 ", "２０２３年５月", "2023／5"])
def test_each_month_spelling(text):
    assert Month.parse(text) == Month(2023, 5)


@given(st.integers(2000, 2099), st.integers(1, 12))
def test_every_spelling_of_any_month_means_that_month(year, month):
    spellings = [f"{year}-{month:02d}", f"{year}/{month}", f"{year}.{month}", f"{year}{month:02d}",
                 f"{year}年{month}月", f"{year}年{month:02d}月"]
    assert {Month.parse(s) for s in spellings} == {Month(year, month)}


@pytest.mark.parametrize("text, message", [
    ("2023-13", "月份 13 不在 1–12 之间"), ("2023年0月", "月份 0 不在 1–12 之间"),
    ("五月", "“五月” 不是月份"), ("23-05", "“23-05” 不是月份"), ("2023-05-01", "“2023-05-01” 不是月份"),
    ("20235", "“20235” 不是月份"),
])
def test_what_is_not_a_month_is_said_in_chinese(text, message):
    with pytest.raises(BadMonth, match=message):
        Month.parse(text)


@pytest.mark.parametrize("text, iso", [
    ("2023-05-23", "2023-05-23"), ("2023/5/23", "2023-05-23"), ("2023.5.23", "2023-05-23"), ("20230523", "2023-05-23"),
    ("2023年5月23日", "2023-05-23"), ("2023年05月23号", "2023-05-23"),
    ("2023年5月23日 18:00", "2023-05-23T18:00:00"), ("2023年5月23日18时30分", "2023-05-23T18:30:00"),
    ("2023/5/23 8:05", "2023-05-23T08:05:00"), ("2023-05-23T18:30", "2023-05-23T18:30:00"),
    ("2023-05-23 18:30:15", "2023-05-23T18:30:15"), ("2023-05-23T18:30:00+08:00", "2023-05-23T18:30:00+08:00"),
])
def test_each_moment_spelling(text, iso):
    assert normalize_moment(text) == iso


@pytest.mark.parametrize("text", ["2023-02-30", "2023-05-23 25:00", "2023-05-231", "2023-05-23 18", "明天", "2023-05"])
def test_what_is_not_a_moment(text):
    with pytest.raises(BadMoment):
        normalize_moment(text)


def test_chinese_month_and_date_on_the_command_line(workdir):
    result = run("status", "--month", "2023年5月", "--as-of", "2023年5月31日 18:00", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["year"], data["month"], data["as_of"]) == (2023, 5, "2023-05-31T18:00:00+08:00")
