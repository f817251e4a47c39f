"""完成时限 (the time window of an Annex 1 task) as written in the plan -> the months it covers (spec 11).

A small hand-written grammar; anything outside it is refused with a reason, never guessed:

    N月至M月  (至 / 到 / - / — / ~;  N月至次年M月;  N-M月)   from N to M
    N月底  N月末  N月D日前  (also …底前 / …末前)                due then; active from the year's start
    年底  全年  (also 年底前)                                  the whole year
    长期  长期坚持  (blank)                                     the whole year, ongoing: no end before 12月底
    上半年  下半年  第N季度 (N = 1–4 or 一–四)

Months may be written 1–12 (half- or full-width) or 一…十二. The year is the task list's, given by the
caller (config `[tasks] year`), never today's.
"""
from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from ..core.months import Month

RANGE, DUE, YEAR, ONGOING, PART = "range", "due", "year", "ongoing", "part"

_CN = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10,
       "十一": 11, "十二": 12}
_NUM = r"(\d{1,2}|十[一二]?|[一二三四五六七八九])"
_SEP = r"(?:至|到|-|—{1,2}|–|~)"
_RANGE = re.compile(rf"^{_NUM}(?:月份?)?{_SEP}(次年)?{_NUM}月(?:份)?(?:底|末)?$")
_DUE_END = re.compile(rf"^{_NUM}月(?:底|末)前?$")
_DUE_DAY = re.compile(rf"^{_NUM}月(\d{{1,2}})日(?:前|之前)$")
_QUARTER = re.compile(r"^第([1-4一二三四])季度$")


class BadWindow(ValueError):
    "A 完成时限 outside the grammar; the message says why, in Chinese"


@dataclass(frozen=True)
class Window:
    text: str
    first: Month
    last: Month
    end: date  # the last day of the window
    kind: str  # range | due | year | ongoing | part

    def covers(self, month: Month) -> bool:
        return self.first <= month <= self.last

    def to_dict(self) -> dict:
        return {"window_text": self.text, "from": str(self.first), "to": str(self.last)}


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _CN[text]


def _month_end(month: Month) -> date:
    return date(month.year, month.month, calendar.monthrange(month.year, month.month)[1])


def _month(n: int, year: int, text: str) -> Month:
    if not 1 <= n <= 12:
        raise BadWindow(f"“{text}”中的月份 {n} 不在 1–12 之间")
    return Month(year, n)


def normalize(text: str | None) -> str:
    """NFKC (full-width digits, ～ －), no spaces: 5 月 至 8 月 -> 5月至8月."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    return re.sub(r"\s+", "", text).replace("－", "-").replace("〜", "~")


def parse_window(text: str | None, year: int) -> Window:
    """The window a 完成时限 text means in `year`; BadWindow for anything else."""
    raw = "" if text is None else str(text).strip()
    s = normalize(raw)
    jan, dec = Month(year, 1), Month(year, 12)
    if s in ("", "长期", "长期坚持"):
        return Window(raw, jan, dec, _month_end(dec), ONGOING)
    if s in ("年底", "年末", "年底前", "全年"):
        return Window(raw, jan, dec, _month_end(dec), YEAR)
    if s in ("上半年", "下半年"):
        first, last = (jan, Month(year, 6)) if s == "上半年" else (Month(year, 7), dec)
        return Window(raw, first, last, _month_end(last), PART)
    if m := _QUARTER.match(s):
        q = _number(m.group(1))
        first, last = Month(year, 3 * q - 2), Month(year, 3 * q)
        return Window(raw, first, last, _month_end(last), PART)
    if m := _RANGE.match(s):
        first = _month(_number(m.group(1)), year, raw)
        last = _month(_number(m.group(3)), year + 1 if m.group(2) else year, raw)
        if last < first:
            raise BadWindow(f"“{raw}”的结束月早于开始月（跨年请写“至次年M月”）")
        return Window(raw, first, last, _month_end(last), RANGE)
    if m := _DUE_END.match(s):
        last = _month(_number(m.group(1)), year, raw)
        return Window(raw, jan, last, _month_end(last), DUE)
    if m := _DUE_DAY.match(s):
        last = _month(_number(m.group(1)), year, raw)
        day = int(m.group(2))
        if not 1 <= day <= calendar.monthrange(year, last.month)[1]:
            raise BadWindow(f"“{raw}”中的日期 {last.month}月{day}日 不存在")
        return Window(raw, jan, last, date(year, last.month, day), DUE)
    raise BadWindow(f"“{raw}”不是可识别的完成时限（可写：5月至8月、12月底、6月30日前、全年、长期、上半年、第三季度；"
                    "不能写“尽快”“左右”“下月”之类不确定的时间）")


def window_label(w: Window) -> str:
    """How a window reads everywhere: its text, or 长期坚持 for a blank one (the seed: 未明确时间节点的工作任务为
    长期坚持)."""
    return w.text or "长期坚持"
