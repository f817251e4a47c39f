"""The month's materials for the clerk (spec 10): `outbox/YYYY-MM/材料/<unit>/` with each unit's current files,
and `材料汇编_YYYY年M月.pdf` — a cover page (who sent what and when, who is missing) followed by every stamped
PDF and image in unit order, so the clerk prints or forwards one file.

The cover is drawn here with fpdf2 (pure Python; embeds a subset of a CJK system font — 宋体/黑体 on Windows, Noto
CJK elsewhere — so the PDF reads the same on any machine). A unit's stamped file is never parsed in this process
(the merge holds the intake lock): in the sandbox's worker, under its memory and time caps, a PDF's pages are
copied stripped of everything but how they look (no actions, JavaScript, links, form fields or attached files)
and an image's frames are re-rendered onto A4 pages, their counts, pixels and nesting capped before anything is
decoded (derived.stamped_pages); the worker joins the pages behind the cover too. A file over a cap, or one
that cannot be taken apart, is left out — the cover says which and why — and the 汇编 is written all the same.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..core.config import Config
from ..core.deadlines import LATE, ON_TIME, OVERDUE
from ..core.months import Month
from ..core.safe_names import safe_filename, xml_text
from ..reading.derived import Refused, join_pdfs, stamped_pages
from ..reading.sandbox import SandboxFailure, run_untrusted
from ..storage.durable import write_atomic
from ..storage.ledger import Ledger
from ..storage.publish import publish
from .classify import KIND_SHORT, STAMPED
from .receipt import _due_text
from .state import MaterialFile, MaterialState, material_states

MATERIALS_DIR = "材料"


class NoCjkFont(Exception):
    "No font with Chinese characters was found for the cover page"


@dataclass
class MaterialsPack:
    folder: Path  # outbox/YYYY-MM/材料
    pdf: Path | None
    copies: list[Path] = field(default_factory=list)
    pages: int = 0  # of the 汇编 PDF
    cover_pages: int = 0
    not_joined: list[str] = field(default_factory=list)  # stamped files that could not be joined, with why
    notes: list[str] = field(default_factory=list)  # copies left as they were (open in another program)


def pack_folder(cfg: Config, month: Month, outbox_dir: Path | None = None) -> Path:
    return Path(outbox_dir or cfg.outbox) / str(month) / MATERIALS_DIR


def compilation_name(month: Month) -> str:
    return f"材料汇编_{month.year}年{month.month}月.pdf"


def write_month_materials(cfg: Config, ledger: Ledger, month: Month, as_of: datetime,
                          outbox_dir: Path | None = None, now: datetime | None = None,
                          states: list[MaterialState] | None = None) -> MaterialsPack:
    """Copy each unit's current files for `month` (as of `as_of`) and write the 汇编 PDF. `outbox_dir` is the
    outbox (default cfg.outbox); files that no longer are current are removed from the unit folders.
    `states`: the month's states when the caller has them already (else read from the ledger)."""
    if states is None:
        states = material_states(cfg, ledger, month, as_of)
    folder = pack_folder(cfg, month, outbox_dir)
    pack = MaterialsPack(folder, None)
    for s in states:
        pack.copies += _copy_unit(cfg, folder, s, pack.notes)
    stamped = [(s, f) for s in states for f in s.current_files if f.kind == STAMPED]
    parts, notes = _stamped_parts(cfg, stamped)
    while True:
        cover, cover_pages = _placed_cover(cfg, month, as_of, states, parts, notes)
        try:
            joined = _join(cfg, [cover, *[d for _i, d, _n in parts]]) if parts else cover
            break
        except (Refused, SandboxFailure) as exc:  # the pages together over a cap: the cover says so
            reason = exc.reason if isinstance(exc, Refused) else exc.reason_zh
            notes += [f"{_who(stamped, i)}（各单位盖章版合在一起超出处理上限：{reason}）" for i, _d, _n in parts]
            parts = []
    pack.not_joined = notes
    pack.cover_pages = cover_pages
    def write(path: Path) -> None:
        path.write_bytes(joined)

    published = publish(folder / compilation_name(month), write, now or as_of)
    pack.pdf = published.path
    pack.pages = cover_pages + sum(n for _i, _d, n in parts)
    return pack


def _placed_cover(cfg: Config, month: Month, as_of: datetime, states: list[MaterialState],
                  parts: list[tuple[int, bytes, int]], notes: list[str]) -> tuple[bytes, int]:
    """The cover, and its page count: its length decides where each stamped file's pages start."""
    first_pages: dict[int, int] = {}
    for _attempt in range(3):
        cover, cover_pages = _cover(cfg, month, as_of, states, first_pages, notes)
        start, placed = cover_pages + 1, {}
        for file_id, _data, pages in parts:
            placed[file_id] = start
            start += pages
        if placed == first_pages:
            break
        first_pages = placed
    return cover, cover_pages


def _who(stamped: list[tuple[MaterialState, MaterialFile]], file_id: int) -> str:
    return next(f"{s.unit}：{xml_text(f.name)}" for s, f in stamped if f.id == file_id)


def _copy_unit(cfg: Config, folder: Path, state: MaterialState, notes: list[str]) -> list[Path]:
    unit_dir = folder / safe_filename(state.unit)
    wanted: dict[str, MaterialFile] = {}
    for f in state.current_files:
        name = safe_filename(f"{KIND_SHORT[f.kind]}_{f.name}")
        if name in wanted:
            name = safe_filename(f"{KIND_SHORT[f.kind]}_{f.id}_{f.name}")
        wanted[name] = f
    if unit_dir.is_dir():
        for old in unit_dir.iterdir():
            if old.is_file() and old.name not in wanted:
                try:
                    old.unlink()  # superseded since the last run: the archive keeps every original
                except OSError as exc:
                    notes.append(f"{state.unit}/{old.name} 已被替换但无法删除（{exc.strerror or exc}），请关闭后删除")
    out = []
    for name, f in wanted.items():
        dest = unit_dir / name
        data = (cfg.root / f.archived_path).read_bytes()
        if not dest.exists() or dest.read_bytes() != data:
            try:
                write_atomic(dest, data)
            except PermissionError as exc:  # Windows: open in Word or a PDF viewer
                notes.append(f"{state.unit}/{name} 正被其他程序打开（{exc.strerror or exc}），未能更新")
        out.append(dest)
    return out


# --- stamped pages: taken apart in the sandbox only ----------------------------------------------------

def _stamped_parts(cfg: Config, stamped: list[tuple[MaterialState, MaterialFile]]) -> tuple[list[tuple[int, bytes, int]], list[str]]:
    """Each stamped file as clean PDF pages (its id, the bytes, the page count), in unit order; the ones
    left out, with why."""
    parts, notes = [], []
    for state, f in stamped:
        who = f"{state.unit}：{xml_text(f.name)}"
        if f.detected_type == "ofd":
            notes.append(f"{who}（OFD 版式文件无法并入，请在“{MATERIALS_DIR}/{state.unit}”中单独打开）")
            continue
        try:
            data = (cfg.root / f.archived_path).read_bytes()
            pdf, pages = run_untrusted(stamped_pages, data, f.detected_type, cfg.limits, limits=cfg.limits)
            parts.append((f.id, pdf, pages))
        except Refused as exc:  # a cap, checked before anything was decoded
            notes.append(f"{who}（无法并入：{exc.reason}）")
        except SandboxFailure as exc:  # out of memory or time, or the worker died
            notes.append(f"{who}（无法并入：{exc.reason_zh}）")
        except Exception as exc:  # one damaged file must not stop the compilation
            notes.append(f"{who}（无法并入：{type(exc).__name__}）")
    return parts, notes


def _join(cfg: Config, pdfs: list[bytes]) -> bytes:
    """The cover and the stamped pages as one PDF, joined in the sandbox (a file's time for each part)."""
    return run_untrusted(join_pdfs, pdfs, limits=cfg.limits, seconds=cfg.limits.parse_seconds * len(pdfs))


# --- the cover -------------------------------------------------------------------------------------------

_WINDOWS_FONTS = [("simsun.ttc", 0), ("simhei.ttf", 0), ("msyh.ttc", 0), ("simkai.ttf", 0)]
_KNOWN_FONTS = ["/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                "/usr/share/fonts/noto-cjk/NotoSerifCJK-Regular.ttc", "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
                "/System/Library/Fonts/PingFang.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"]


@functools.lru_cache(maxsize=1)
def cjk_font() -> tuple[Path, int]:
    """A font file with simplified Chinese, and its index in a collection: 宋体 on Windows; on Linux what
    fontconfig lists for zh-cn (Simplified Chinese faces first); else well-known paths."""
    if sys.platform == "win32":
        fonts = Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts"
        for name, index in _WINDOWS_FONTS:
            if (fonts / name).exists():
                return fonts / name, index
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", ":lang=zh-cn", "file", "index", "family", "style"], capture_output=True,
                                 text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        found = []
        for line in out.splitlines():
            path, _, rest = line.partition(":")
            index = next((int(p.split("=")[1]) for p in rest.split(":") if p.startswith("index=") and p[6:].isdigit()), 0)
            if path.lower().endswith((".ttf", ".ttc", ".otf")):
                rank = (0 if " SC" in rest or "SC:" in rest else 1, 0 if "Serif" in rest else 1,
                        0 if "style=Regular" in rest else 1)
                found.append((rank, path, index))
        if found:
            _rank, path, index = min(found)
            return Path(path), index
    for path in _KNOWN_FONTS:
        if Path(path).exists():
            return Path(path), 2 if "CJK" in path else 0
    raise NoCjkFont("找不到中文字体，无法生成材料汇编的封面。请安装宋体或 Noto CJK 字体"
                    "（Linux：apt install fonts-noto-cjk）后重试")


def _cover(cfg: Config, month: Month, as_of: datetime, states: list[MaterialState], first_pages: dict[int, int],
           notes: list[str]) -> tuple[bytes, int]:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    font, index = cjk_font()
    tz = cfg.bureau.tz
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_font("cjk", fname=str(font), collection_font_number=index)
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.multi_cell(0, 10, f"{cfg.bureau.short_name}交通运输系统\n{month.label}月度工作情况材料汇编", align="C",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("cjk", size=10.5)
    complete = sum(1 for s in states if s.state in (ON_TIME, LATE))
    pdf.multi_cell(0, 6, f"报送期限：{_due_text(cfg, month)}（盖章版含电子版）    统计截至：{as_of.astimezone(tz):%Y-%m-%d %H:%M}\n"
                         f"应报 {len(states)} 个单位，已报齐 {complete} 个，"
                         f"按时 {sum(1 for s in states if s.state == ON_TIME)} 个，"
                         f"迟报 {sum(1 for s in states if s.state == LATE)} 个，"
                         f"逾期未齐 {sum(1 for s in states if s.state == OVERDUE)} 个。",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("cjk", size=9.5)
    heading = FontFace(emphasis=None, fill_color=(225, 225, 225))
    with pdf.table(col_widths=(10, 36, 39, 39, 32, 14), line_height=5.2, headings_style=heading,
                   text_align=("CENTER", "LEFT", "LEFT", "LEFT", "CENTER", "CENTER")) as table:
        table.row(["序号", "单位", "盖章版（收到时间）", "电子版（收到时间）", "状态", "页码"])
        for n, s in enumerate(states, 1):
            cells = []
            for kind in ("stamped", "electronic"):
                files = [f for f in s.current_files if f.kind == kind]
                cells.append("\n".join(f"{xml_text(f.name)}\n{f.received_at.astimezone(tz):%m-%d %H:%M}" for f in files)
                             or "未收到")
            pages = [str(first_pages[f.id]) for f in s.current_files if f.id in first_pages]
            table.row([str(n), s.unit, *cells, s.label, "、".join(pages) or "—"])
    missing = [s for s in states if s.state == OVERDUE]
    pdf.ln(4)
    pdf.set_font("cjk", size=10.5)
    if missing:
        text = "；".join(f"{s.unit}（{'未报送' if not s.files else '缺' + '、'.join(KIND_SHORT[k] for k in s.missing)}）"
                        for s in missing)
        pdf.multi_cell(0, 6, f"逾期未报齐：{text}。", new_x="LMARGIN", new_y="NEXT")
    for note in notes:
        pdf.multi_cell(0, 6, f"未并入：{note}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("cjk", size=9)
    pdf.multi_cell(0, 5, "本汇编在封面之后按单位顺序收录各单位现行的盖章版（PDF扫描件和图片）；电子版和全部原件见同一文件夹下"
                         f"各单位子文件夹。{cfg.bureau.name}{cfg.contact.department.removeprefix('局')}汇编。", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output()), pdf.pages_count
