"""One material file -> its judgement (spec 10): stamped or electronic, its unit and month, or why it is refused.

`judge_material` is pure (bytes and names in, data out) so that intake can run it in a sandboxed child
process: its arguments and its result pickle.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath

from ..core.config import Config
from ..core.files import MATERIAL_SUFFIXES as FILE_MATERIAL_SUFFIXES
from ..core.files import REFUSED_SPREADSHEET_SUFFIXES
from ..core.issues import Issue, has_errors, material_issue
from ..core.months import Month
from ..reading.material import IMAGE_TYPES, OFD, PDF, WORD_TYPES, Probe, Unreadable, probe, sniff
from .names import month_in, month_in_lines, name_says_stamped, unit_in_lines, units_in

STAMPED, ELECTRONIC = "stamped", "electronic"
KIND_LABELS = {STAMPED: "盖章版（扫描件）", ELECTRONIC: "电子版"}
KIND_SHORT = {STAMPED: "盖章版", ELECTRONIC: "电子版"}
MONTH_RULES = {"option": "按报送时指定的月份", "name": "按文件名", "text": "按文件正文开头", "assumed": "按收到时间推定"}

SPREADSHEET_FORMAT_SUFFIXES = REFUSED_SPREADSHEET_SUFFIXES  # .csv .et .ett …: E_FORMAT, save as .xlsx
MATERIAL_SUFFIXES = FILE_MATERIAL_SUFFIXES | {".bmp", ".gif", ".webp", ".docm", ".dot"}
_TYPE_WORDS = {"exe": "可执行程序", "zip": "压缩包", "archive": "压缩包", "text": "纯文本文件", "html": "网页文件",
               "ole": "无法识别的 Office 文件", "unknown": "无法识别的文件", "xlsx": "Excel 表格", "xls": "Excel 表格",
               "ods": "电子表格", "heic": "苹果手机的 HEIC 照片（请在手机上改为 JPG 格式拍摄或导出）"}


@dataclass
class MaterialJudgement:
    ok: bool
    kind: str | None  # stamped | electronic | None (the content is no material)
    unit: str | None  # canonical unit name
    year: int | None
    month: int | None
    month_rule: str  # option | name | text | assumed
    issues: list[Issue] = field(default_factory=list)
    detected_type: str = "unknown"
    pages: int | None = None
    unit_rule: str | None = None  # folder | name | text
    is_spreadsheet: bool = False  # the bytes are a workbook: intake should validate it as Annex 2 instead

    @property
    def period(self) -> Month | None:
        return Month(self.year, self.month) if self.year and self.month else None

    def to_dict(self) -> dict:
        """For `validate --json`: the keys of a workbook's report, and what the material was judged to be."""
        return {"ok": self.ok, "unit": self.unit, "year": self.year, "month_from": self.month, "month_to": self.month,
                "issues": [i.to_dict() for i in self.issues],
                "material": {"kind": self.kind, "type": self.detected_type, "pages": self.pages,
                             "month_rule": self.month_rule, "unit_rule": self.unit_rule}}


def kind_of_probe(probe_: Probe, name: str) -> str | None:
    """Stamped or electronic, from what the file holds (spec 10); None for what is not a material."""
    if probe_.detected_type == PDF:
        if probe_.scanned or name_says_stamped(name):
            return STAMPED
        return ELECTRONIC
    if probe_.detected_type in IMAGE_TYPES.values() or probe_.detected_type == OFD:
        return STAMPED
    if probe_.detected_type in WORD_TYPES:
        return ELECTRONIC
    return None


def _refusal(probe_: Probe, suffix: str) -> Issue:
    """Why a file that holds no material is refused: a spreadsheet format we do not read, or not a material."""
    t = probe_.detected_type
    what = _TYPE_WORDS.get(t, "无法识别的文件")
    if suffix in SPREADSHEET_FORMAT_SUFFIXES and t in ("text", "ole", "unknown", "xls", "zip"):
        label = {".csv": "CSV 文本表格", ".tsv": "TSV 文本表格", ".numbers": "苹果 Numbers 表格"}.get(suffix, "WPS 表格（.et/.ett）")
        return material_issue("E_FORMAT", f"这是{label}，系统不读取这种格式")
    if t in ("xlsx", "xls", "ods"):
        return material_issue("E_MATERIAL_TYPE", f"文件内容是{what}（扩展名是 {suffix or '无'}），不是工作材料；"
                                                  "附件2表格请用 .xlsx/.xls/.ods 扩展名报送")
    zip_based = suffix in (".docx", ".docm", ".dotx", ".odt", ".ofd")
    if suffix in MATERIAL_SUFFIXES and (t in ("unknown", "ole", "text") or (t == "zip" and zip_based)):
        return material_issue("E_UNREADABLE", f"扩展名是 {suffix}，但文件内容不是这种格式（可能已损坏或只是改了扩展名）")
    return material_issue("E_MATERIAL_TYPE", f"文件内容是{what}（扩展名是 {suffix or '无'}），不是工作材料")


def _empty(probe_: Probe) -> bool:
    if probe_.detected_type == PDF:
        return probe_.pages == 0 or not (probe_.has_text or probe_.has_image or probe_.has_drawing)
    if probe_.detected_type in IMAGE_TYPES.values():
        return not probe_.has_image
    if probe_.detected_type in WORD_TYPES:
        return not (probe_.has_text or probe_.has_image)
    return probe_.pages == 0


def assumed_month(cfg: Config, received_at: datetime) -> Month:
    """The month whose materials deadline falls in the calendar month of arrival (bureau's zone)."""
    arrived = Month.of(received_at.astimezone(cfg.bureau.tz))
    return arrived.plus(-cfg.materials.month_offset)


def judge_material(name: str, data: bytes, folder_unit: str | None, cfg: Config, received_at: datetime,
                   month_hint: Month | None) -> MaterialJudgement:
    """Classify and check one material file. `folder_unit` is its owner (inbox folder, e-mail sender or
    --unit), None for the inbox root; `month_hint` is --month. Pure: no file, clock or ledger is touched."""
    suffix = PurePath(name).suffix.lower()
    issues: list[Issue] = []
    sniffed = sniff(data) if data else "unknown"
    try:
        if suffix in SPREADSHEET_FORMAT_SUFFIXES and sniffed in ("ole", "text", "unknown", "zip"):
            found = Probe(sniffed)  # a WPS or CSV table: refused for its format, its bytes need no parsing
        else:
            found = probe(data, cfg.limits, suffix)
    except Unreadable as problem:
        found, kind = Probe(sniffed), None
        issues.append(material_issue(problem.code, problem.reason))
    else:
        kind = kind_of_probe(found, name)
        if kind is None:
            issues.append(_refusal(found, suffix))
        elif _empty(found):
            what = "PDF 没有任何页面" if found.pages == 0 else "文件中没有文字，也没有图片"
            issues.append(material_issue("E_EMPTY_DOCUMENT", what))
            kind = None

    unit, unit_rule = _unit(cfg, name, folder_unit, found.lines, issues)
    period, month_rule = _month(cfg, name, found.lines, received_at, month_hint)
    if month_rule == "assumed" and not has_errors(issues):
        issues.append(material_issue("W_MATERIAL_MONTH_ASSUMED",
                                     f"文件名和正文开头都没有写明月份，按收到时间算作 {period.label} 的材料"))
    ok = kind is not None and not has_errors(issues)
    # `kind` stays what the content is even when the file is refused for its unit: the receipt can say so.
    return MaterialJudgement(ok, kind, unit, period.year, period.month, month_rule, issues,
                             found.detected_type, found.pages, unit_rule, found.is_spreadsheet)


def _unit(cfg: Config, name: str, folder_unit: str | None, lines: list[str], issues: list[Issue]):
    stem = PurePath(name).stem
    named = units_in(cfg, stem)
    if folder_unit:
        owner = cfg.unit_named(folder_unit)
        owner_name = owner.name if owner else folder_unit
        # Only the file name can contradict the owner: a report's text mentions other units all the time.
        if named and all(u.name != owner_name for u in named):
            others = "、".join(u.name for u in named)
            issues.append(material_issue("E_UNIT_MISMATCH", f"文件名写的是“{others}”，但文件来自“{owner_name}”"))
        return owner_name, "folder"
    if len(named) == 1:
        return named[0].name, "name"
    from_text = unit_in_lines(cfg, lines)
    if from_text is not None and not named:
        return from_text.name, "text"
    if named:
        detail = f"文件名提到了多个单位（{'、'.join(u.name for u in named)}），无法确定是哪个单位报送的"
    else:
        detail = "文件放在收件箱根目录，文件名和正文开头都没有写明单位"
    issues.append(material_issue("E_UNIT_UNKNOWN", detail))
    return None, None


def _month(cfg: Config, name: str, lines: list[str], received_at: datetime, hint: Month | None) -> tuple[Month, str]:
    arrived = Month.of(received_at.astimezone(cfg.bureau.tz))
    if hint is not None:
        return hint, "option"
    for found, rule in ((month_in(PurePath(name).stem), "name"), (month_in_lines(lines), "text")):
        if found is None:
            continue
        year = found.year
        if year is None:
            # A month named without a year is the latest such month not after the arrival: a "12月" report
            # that arrives in January is last year's.
            year = arrived.year if found.month <= arrived.month else arrived.year - 1
        return Month(year, found.month), rule
    return assumed_month(cfg, received_at), "assumed"
