"""Sample monthly work materials as units make them: a Word report (电子版) and the scan of its stamped
print-out (盖章版, a PDF of page images with a red seal). For `annex2 demo` and the tests."""
from __future__ import annotations

import io
from pathlib import Path

from ..core.months import Month


def sample_name(unit: str, month: Month, kind: str) -> str:
    return f"{unit}{month.year}年{month.month}月份工作情况" + ("（盖章）.pdf" if kind == "stamped" else ".docx")


def report_docx(unit: str, month: Month) -> bytes:
    """The electronic version: a short Word report whose title names the unit and the month."""
    import docx

    doc = docx.Document()
    doc.add_heading(f"{unit}{month.label}份工作情况", level=1)
    for text in (f"一、{month.month}月主要工作：开展安全生产督查检查，督促企业落实主体责任。",
                 "二、存在的问题：部分企业隐患整改不及时，已下达整改通知并跟踪复查。",
                 "三、下月工作安排：持续推进“打好安全生产翻身仗”各项重点任务。"):
        doc.add_paragraph(text)
    doc.add_paragraph(f"{unit}（盖章）")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def stamped_scan(unit: str, month: Month, pages: int = 1) -> bytes:
    """The stamped version: each page an image (no text layer), as a scanner makes it, with a red seal."""
    # The one use of PIL outside reading/: it DRAWS the demo's sample seal (writing), it never reads a unit's bytes.
    from PIL import Image, ImageDraw, ImageFont

    title_font: object = None
    body_font: object = None
    try:
        from ..materials.pack import cjk_font

        path, index = cjk_font()
        title_font = ImageFont.truetype(str(path), 34, index=index)
        body_font = ImageFont.truetype(str(path), 22, index=index)
    except Exception:  # no Chinese font: the page still is a scan, with grey bars for its lines
        title_font = body_font = None
    frames = []
    for n in range(pages):
        im = Image.new("RGB", (1240, 1754), (250, 250, 247))  # A4 at 150 dpi
        draw = ImageDraw.Draw(im)
        if title_font and body_font:
            draw.text((620, 170), f"{unit}{month.label}份工作情况", fill="black", font=title_font, anchor="mm")
            for i in range(14):
                draw.text((150, 300 + i * 60), "　　本月按照工作方案开展安全生产督查检查，隐患整改持续推进。"[: 18 + i % 9],
                          fill=(40, 40, 40), font=body_font)
            draw.text((780, 1420), f"第 {n + 1} 页", fill="black", font=body_font)
        else:
            for i in range(14):
                draw.rectangle((150, 300 + i * 60, 1000 - (i % 4) * 90, 318 + i * 60), fill=(60, 60, 60))
        seal = (840, 1120, 1100, 1380)  # the red seal over the unit's name
        draw.ellipse(seal, outline=(200, 20, 20), width=12)
        draw.regular_polygon((970, 1250, 50), 5, fill=(200, 20, 20))
        frames.append(im)
    out = io.BytesIO()
    frames[0].save(out, "PDF", resolution=150, save_all=True, append_images=frames[1:])
    return out.getvalue()


def write_sample_material(folder: Path, unit: str, month: Month, kind: str) -> Path:
    """A unit's sample material file in `folder` (e.g. its inbox folder); returns its path."""
    path = Path(folder) / sample_name(unit, month, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(stamped_scan(unit, month) if kind == "stamped" else report_docx(unit, month))
    return path
