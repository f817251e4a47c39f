"""The tests build their workbooks here, the way units really make them: our template filled in with openpyxl,
or a table retyped by hand. The benchmarks use it too; the package does not (the demo fills in the template
with the template writer and ships its retyped tables as files LibreOffice saved)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pipeline.core import form
from pipeline.statistics.template import Header, write_template

SECTOR_ORDER = [s.key for s in form.SECTORS]
COUNT_ORDER = [m.key for m in form.COUNT_METRICS]
ALL_ORDER = [m.key for m in form.METRICS]
LABELS = {s.key: s.display for s in form.SECTORS}
HEADERS = [m.label for m in form.METRICS]
UNITS = [m.unit for m in form.METRICS]
GROUP_COLUMNS = {g: [i for i, m in enumerate(form.METRICS) if m.group == g] for g in (form.GROUP_HAZARDS, form.GROUP_ENFORCEMENT)}

# A plausible January–May report; by sector, the ten counts in COUNT_ORDER.
SAMPLE = {
    "construction":     [3, 12, 8, 1, 10, 1, 9, 2, 1, 0],
    "fireworks":        [2, 6, 5, 0, 4, 0, 4, 1, 0, 0],
    "traffic":          [5, 20, 30, 2, 25, 1, 20, 6, 3, 1],
    "culture_tourism":  [1, 3, 2, 0, 2, 0, 2, 0, 0, 0],
    "student":          [1, 4, 6, 0, 3, 0, 3, 0, 0, 0],
    "natural_disaster": [2, 8, 7, 1, 6, 1, 5, 1, 0, 0],
    "other":            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
}
# Column sums of SAMPLE, worked out by hand:
SAMPLE_TOTAL = [14, 53, 58, 4, 50, 3, 43, 10, 4, 1]


def sample_values() -> dict[str, dict[str, Any]]:
    return {s: dict(zip(COUNT_ORDER, row)) for s, row in SAMPLE.items()}


def make_submission(path: Path, *, layout: str = "template", unit: str | None = "交通运输综合行政执法大队",
                    values: dict[str, dict[str, Any]] | None = None,
                    year: Any = 2023, month_from: Any = 1, month_to: Any = 5,
                    cells: dict[tuple[str, str], Any] | None = None, total: dict[str, Any] | None = None,
                    rates: dict[tuple[str, str], Any] | None = None,
                    head: str | None = "王五", filler: str | None = "李四", phone: Any = "0730-8451234",
                    offset: tuple[int, int] = (3, 2), units_row: bool = True, sheet: str = "附件2",
                    cover: bool = False, drop: str | None = None, extra_row: str | None = None,
                    labels: dict[str, str] | None = None, period_text: str | None = None) -> Path:
    """A filled-in Annex 2. `cells` overrides raw values by (sector, metric); `total` types 合计 cells."""
    path = Path(path)
    values = {s: dict(row) for s, row in (values or sample_values()).items()}
    for (sector, metric), raw in (cells or {}).items():
        values[sector][metric] = raw
    if layout == "template":
        _fill_template(path, values, unit, year, month_from, month_to, total, rates, head, filler, phone, sheet, cover)
    else:
        _retyped(path, values, unit, year, month_from, month_to, total, rates, head, filler, phone, offset,
                 units_row, sheet, cover, drop, extra_row, labels or {}, period_text)
    return path


def _fill_template(path, values, unit, year, month_from, month_to, total, rates, head, filler, phone, sheet, cover):
    import openpyxl
    from openpyxl.utils import get_column_letter

    write_template(path, "云溪区", Header())
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    ws.title = sheet
    ws["B2"], ws["B3"], ws["D3"], ws["F3"] = unit, year, month_from, month_to
    cols = {m: get_column_letter(i + 2) for i, m in enumerate(ALL_ORDER)}
    for i, sector in enumerate(SECTOR_ORDER):
        for metric in COUNT_ORDER:
            ws[f"{cols[metric]}{7 + i}"] = values[sector][metric]
    for metric, raw in (total or {}).items():
        ws[f"{cols[metric]}14"] = raw
    for (sector, metric), raw in (rates or {}).items():
        row = 14 if sector == "total" else 7 + SECTOR_ORDER.index(sector)
        ws[f"{cols[metric]}{row}"] = raw
    ws["B16"], ws["H16"], ws["H17"] = head, filler, phone
    if cover:
        c = wb.create_sheet("封面", 0)
        c["A1"] = "云溪区交通运输局 安全生产月报"
    wb.save(path)


def _retyped(path, values, unit, year, month_from, month_to, total, rates, head, filler, phone, offset,
             units_row, sheet, cover, drop, extra_row, labels, period_text):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if cover:
        c = wb.create_sheet("说明", 0)
        c["B2"] = "本表按局里下发的附件2重新录入"
    r0, c0 = offset[0] + 1, offset[1] + 1  # openpyxl is 1-based
    title = form.title("云溪区")
    ws.cell(r0, c0, title[:13] + "\n" + title[13:])  # retyped titles wrap where the typist pressed Enter
    ws.cell(r0 + 1, c0, f"{form.UNIT_LABEL}{unit or ''}")
    ws.cell(r0 + 2, c0, period_text if period_text is not None else f"{year}年 {month_from}月至 {month_to}月（累计数）")
    hr = r0 + 3
    ws.cell(hr, c0, form.SECTOR_HEADER[:2] + "\n" + form.SECTOR_HEADER[2:])
    for i, metric in enumerate(form.METRICS):
        ws.cell(hr + 1 if metric.group else hr, c0 + 1 + i, metric.label)
    for group, cols in GROUP_COLUMNS.items():
        ws.cell(hr, c0 + 1 + cols[0], group)
        ws.merge_cells(start_row=hr, start_column=c0 + 1 + cols[0], end_row=hr, end_column=c0 + 1 + cols[-1])
    r = hr + 2
    if units_row:
        for i, u in enumerate(UNITS):
            ws.cell(r, c0 + 1 + i, u)
        r += 1
    for sector in SECTOR_ORDER:
        if sector == drop:
            continue
        ws.cell(r, c0, labels.get(sector, LABELS[sector].replace(".", " ")))  # `1 建设领域`, as in the seed
        for metric in COUNT_ORDER:
            ws.cell(r, c0 + 1 + ALL_ORDER.index(metric), values[sector][metric])
        for (s, metric), raw in (rates or {}).items():
            if s == sector:
                ws.cell(r, c0 + 1 + ALL_ORDER.index(metric), raw)
        r += 1
        if extra_row and sector == "student":
            ws.cell(r, c0, extra_row)
            ws.cell(r, c0 + 1, 1)
            r += 1
    ws.cell(r, c0, "  ".join(form.TOTAL.label))  # typed with spaces, as in the seed
    for metric, raw in (total or {}).items():
        ws.cell(r, c0 + 1 + ALL_ORDER.index(metric), raw)
    r += 2
    ws.cell(r, c0, f"{form.FOOTER_HEAD}{head or ''}")
    ws.cell(r, c0 + 5, f"{form.FOOTER_FILLER}{filler or ''}")
    ws.cell(r + 1, c0, f"{form.FOOTER_DATE}2023年5月20日")
    ws.cell(r + 1, c0 + 5, form.FOOTER_PHONE)
    if phone is not None:
        ws.cell(r + 1, c0 + 6, phone)
    wb.save(path)



XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def make_email(sender: str, attachments=(), *, received: str | None = None, date: str | None = None,
               subject: str = "5月附件2") -> bytes:
    """An e-mail as a client saves it: From (`sender` as written, a display name too), To, Subject, an optional
    Received stamp (`received`: its date) and Date, and attachments as (name, data) for a workbook or
    (name, data, (maintype, subtype))."""
    from email.message import EmailMessage

    msg = EmailMessage()
    if received:
        msg["Received"] = f"from mail.unit.local (unknown [10.0.0.8]) by mx.yx.gov.cn with ESMTP id 4QK; {received}"
    msg["From"] = sender
    msg["To"] = "841099245@qq.com"
    msg["Subject"] = subject
    if date:
        msg["Date"] = date
    msg.set_content("孟老师好，附件是本月的统计表，请查收。")
    for name, data, *kind in attachments:
        maintype, subtype = kind[0] if kind else XLSX_TYPE
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


# --- monthly work materials: a scan, a photo, a Word report, a program ----------------------------------

def image_pdf(pages=1) -> bytes:
    """A scan: pages that are pictures only (no text layer), as Pillow writes them."""
    from PIL import Image, ImageDraw

    frames = []
    for n in range(pages):
        im = Image.new("RGB", (620, 877), "white")
        draw = ImageDraw.Draw(im)
        draw.rectangle((60, 60, 560, 90 + 10 * n), fill="black")
        draw.ellipse((380, 640, 540, 800), outline=(200, 0, 0), width=10)  # the seal
        frames.append(im)
    out = io.BytesIO()
    frames[0].save(out, "PDF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def jpg() -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (800, 600), "white")
    ImageDraw.Draw(im).ellipse((300, 200, 500, 400), outline=(200, 0, 0), width=12)
    out = io.BytesIO()
    im.save(out, "JPEG")
    return out.getvalue()


def docx(*paragraphs) -> bytes:
    import docx as python_docx

    doc = python_docx.Document()
    for p in paragraphs:
        doc.add_paragraph(p)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def exe() -> bytes:
    """The first bytes of a Windows program: an MZ header and its DOS stub."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + \
        b"This program cannot be run in DOS mode.\r\r\n$" + b"\x00" * 200
