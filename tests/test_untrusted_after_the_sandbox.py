"""A unit's file stays untrusted after it passed the sandbox: the marked-up copy, `validate --markup` and the
month's 材料汇编 never re-open its bytes in the parent, a huge merged range or a TIFF bomb costs little memory,
and a stamped PDF's chains, scripts, links and attachments never reach the compilation. Real files built here,
real processes (`python -m pipeline ...`), a real ledger file."""
import shutil
import subprocess
from pathlib import Path

import pytest
from factory import make_submission
from helpers import measured, needs_rlimit, rows, run_cli, settled

EXEC = "交通运输综合行政执法大队"
QUALITY = "交通质量和安全监督站"


# --- nothing parses a unit's bytes outside the sandbox -------------------------------------------

def with_sheet_xml(path, edit):
    """The workbook at `path` written again with its sheet XML edited (valid CRCs: the damage is the content)."""
    import zipfile

    with zipfile.ZipFile(path) as zin:
        parts = [(info, zin.read(info)) for info in zin.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, body in parts:
            zout.writestr(info.filename, edit(body) if info.filename == "xl/worksheets/sheet1.xml" else body)
    return path


def merged_range_xlsx(path):
    """A rejected Annex 2 (8 KB) whose sheet declares one more merged range: A40:XFD1048576."""
    return with_sheet_xml(make_submission(path, cells={("traffic", "major_fixed"): 99}),
                          lambda xml: xml.replace(b'<mergeCells count="14">',
                                                  b'<mergeCells count="15"><mergeCell ref="A40:XFD1048576"/>'))


def hyperlinked_range_xlsx(path):
    """A rejected Annex 2 whose sheet declares a hyperlink over every cell (openpyxl copies it into each)."""
    return with_sheet_xml(make_submission(path, cells={("traffic", "major_fixed"): 99}),
                          lambda xml: xml.replace(b"</sheetData>", b'</sheetData><hyperlinks><hyperlink ref="A1:XFD1048576" '
                                                  b'location="Sheet1!A1" display="x"/></hyperlinks>', 1))


@needs_rlimit  # run under an RLIMIT_AS cap, its peak read with resource.getrusage (MEASURED)
def test_a_rejected_xlsx_declaring_a_huge_merged_range_gets_its_receipt_and_a_copy_in_little_memory(workdir):
    # Found: the marked-up copy re-opened the rejected workbook with openpyxl in the parent, and an 8 KB .xlsx
    # declaring one merged range A40:XFD1048576 made it build 17 billion cells: ingest was OOM-killed after
    # recording the file, and every rerun resumed it first and died again. Fixed: the unit's own workbook is
    # taken apart only in the sandbox, its merged and hyperlink ranges counted before openpyxl loads it; over
    # the cap the copy is drawn on our template from the values the sandbox extracted, and the receipt says so.
    import openpyxl

    bad = merged_range_xlsx(workdir / "inbox" / EXEC / "附件2.xlsx")
    assert bad.stat().st_size < 9000
    settled(workdir)
    rc, peak, output = measured(workdir, "ingest")
    assert rc == 1, output
    assert peak < 500, f"peak RSS {peak:.0f} MB"
    assert rows(workdir, "SELECT original_name, outcome FROM arrivals") == [("附件2.xlsx", "rejected")]
    receipts = workdir / "inbox" / EXEC / "回执"
    (receipt,) = receipts.glob("*.txt")
    text = receipt.read_text(encoding="utf-8-sig")
    assert "有误的单元格已在“" in text
    assert "（原表格式无法保留：表格的合并单元格或超链接范围共 " in text
    assert "个单元格，超过处理上限 200000；标注副本按附件2模板重新排版。）" in text
    (copy,) = receipts.glob("*_错误标注.xlsx")
    book = openpyxl.load_workbook(copy)
    assert book.sheetnames[0] == "错误说明"
    assert "后面是按附件2模板重新排版的你单位报表（原表格式无法保留：表格的合并单元格" in book["错误说明"]["A1"].value
    assert book["错误说明"]["G4"].value == "E_FIXED_GT_FOUND"


@needs_rlimit  # run under an RLIMIT_AS cap, its peak read with resource.getrusage (MEASURED)
def test_validate_markup_never_reads_a_file_again_outside_the_sandbox(workdir, tmp_path):
    # Found: `validate --markup` judged each file in the sandbox, then read every rejected one again in its own
    # process to draw the copy — a fuzzed .xls that the sandbox stopped at its 512 MB cap then took 2.2 GB
    # there. Fixed: the copies are drawn from what the sandbox extracted while judging; a file it could not
    # read gets no copy.
    from fuzz import damaged_xls

    fuzzed = tmp_path / "fuzz_seed7.xls"
    fuzzed.write_bytes(damaged_xls((5137, 0x40), (6349, 0x08)))
    wrong = make_submission(tmp_path / "附件2_错.xlsx", cells={("traffic", "major_fixed"): 99})
    rc, peak, output = measured(workdir, "validate", "--markup", str(tmp_path / "标注"), str(fuzzed), str(wrong))
    assert rc == 1, output
    assert peak < 500, f"peak RSS {peak:.0f} MB"
    assert sorted(p.name for p in (tmp_path / "标注").iterdir()) == ["附件2_错_错误标注.xlsx"]
    assert "错误：文件已损坏或过大（读取所需内存过多，已中止）" in output


# --- the 材料汇编 — stamped files taken apart in the sandbox only ----------------------------------

def pdf_of(objects: dict[int, bytes]) -> bytes:
    """A PDF written by hand, object by object (1 is the catalog), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n"
    xref, size = len(out), max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[n] if n in offsets else b"0000000000 65535 f \n"
                    for n in range(1, size))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref)
    return bytes(out)


def stamped_scan(catalog: bytes = b"", resources: bytes = b"", page: bytes = b"",
                 more: dict[int, bytes] | None = None) -> bytes:
    """A scanned page: one grey picture and no text (a stamped version), with extra entries where asked."""
    picture = bytes((x * 7 + y * 3) % 256 for y in range(64) for x in range(64))
    content = b"q 400 0 0 400 97 221 cm /Im0 Do Q"
    return pdf_of({
        1: b"<< /Type /Catalog /Pages 2 0 R " + catalog + b">>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 4 0 R >> "
           + resources + b">> /Contents 5 0 R " + page + b">>",
        4: b"<< /Type /XObject /Subtype /Image /Width 64 /Height 64 /ColorSpace /DeviceGray /BitsPerComponent 8 "
           b"/Length 4096 >>\nstream\n" + picture + b"\nendstream",
        5: b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        **(more or {})})


def huge_tiff() -> bytes:
    """A 25-page bilevel TIFF: a real first page (a scan with a black bar), then 24 white pages of 12000×14000
    pixels in Group 4 fax code — each all-white line one vertical-mode code (V0 = "1"), so a few KB a page."""
    import io
    import struct

    from PIL import Image, ImageDraw

    def white_g4(rows: int) -> bytes:
        bits = "1" * rows + "000000000001" * 2  # then EOFB
        bits += "0" * (-len(bits) % 8)
        return int(bits, 2).to_bytes(len(bits) // 8, "big")

    def tiff(pages) -> bytes:  # (width, height, photometric, one Group 4 strip)
        out = bytearray(b"II*\x00\x00\x00\x00\x00")
        at = []
        for *_size, data in pages:
            at.append(len(out))
            out += data + b"\0" * (len(data) % 2)
        link = 4
        for (w, h, photo, data), where in zip(pages, at):
            struct.pack_into("<I", out, link, len(out))
            tags = [(256, 4, w), (257, 4, h), (258, 3, 1), (259, 3, 4), (262, 3, photo), (273, 4, where),
                    (277, 3, 1), (278, 4, h), (279, 4, len(data))]
            out += struct.pack("<H", len(tags)) + b"".join(
                struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", v, 0) if kind == 3 else struct.pack("<I", v))
                for tag, kind, v in tags)
            link = len(out)
            out += b"\0\0\0\0"
        return bytes(out)

    first = Image.new("1", (1240, 1754), 1)
    ImageDraw.Draw(first).rectangle((100, 100, 1100, 400), fill=0)
    saved = io.BytesIO()
    first.save(saved, "TIFF", compression="group4", tiffinfo={278: 1754})
    strip = Image.open(io.BytesIO(saved.getvalue())).tag_v2
    page1 = saved.getvalue()[strip[273][0]:strip[273][0] + strip[279][0]]
    return tiff([(1240, 1754, 1, page1)] + [(12000, 14000, 0, white_g4(14000))] * 24)


def chained_pdf() -> bytes:
    """A stamped scan whose page resources reach a chain of 3,000 indirect arrays."""
    chain = {10 + n: b"[%d 0 R]" % (11 + n) for n in range(3000)}
    chain[3010] = b"[]"
    return stamped_scan(resources=b"/Properties << /P0 10 0 R >> ", more=chain)


def active_pdf() -> bytes:
    """A stamped scan with a page-open JavaScript action, a document-open one, an outside link, a form and an
    attached .exe."""
    js = b"<< /S /JavaScript /JS (app.launchURL\\(\"http://evil.example/open\"\\);) >>"
    return stamped_scan(
        catalog=b"/OpenAction 20 0 R /Names << /JavaScript << /Names [(a) 20 0 R] >> /EmbeddedFiles << /Names "
                b"[(x.exe) 23 0 R] >> >> /AcroForm << /Fields [] >> ",
        page=b"/AA << /O 20 0 R >> /Annots [21 0 R 22 0 R] ",
        more={20: js,
              21: b"<< /Type /Annot /Subtype /Link /Rect [0 0 595 842] /A << /S /URI /URI (http://evil.example/x) >> >>",
              22: b"<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 10 10] /FS 23 0 R >>",
              23: b"<< /Type /Filespec /F (x.exe) /EF << /F 24 0 R >> >>",
              24: b"<< /Type /EmbeddedFile /Length 4 >>\nstream\nMZ\x90\x00\nendstream"})


def cover_text(pdf: Path) -> str:
    """The 汇编's cover as text, every blank taken out (pdftotext breaks lines where the table does)."""
    got = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True,
                         check=True).stdout
    return "".join(got.split())


def stamped_in(work, name, data, month="2023-05"):
    """A unit's stamped material dropped in its folder and taken in; then `merge` of `month`, measured."""
    (work / "inbox" / EXEC / name).write_bytes(data)
    settled(work)
    taken = run_cli(work, "ingest")
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert rows(work, "SELECT original_name, outcome FROM arrivals") == [(name, "material")]
    return measured(work, "merge", "--month", month, "--as-of", "2026-12-31T12:00")


COMPILATION = Path("outbox") / "2023-05" / "材料" / "材料汇编_2023年5月.pdf"
needs_pdftotext = pytest.mark.skipif(not shutil.which("pdftotext"), reason="reads the cover with poppler's pdftotext")


@needs_rlimit  # run under an RLIMIT_AS cap, its peak read with resource.getrusage (MEASURED)
@needs_pdftotext
def test_a_stamped_pdf_chaining_3000_arrays_is_left_out_of_the_compilation_not_the_merge(workdir):
    # Found: `merge` joined the stamped PDFs with pypdf in its own process, and a page whose resources reach a
    # chain of 3,000 indirect arrays made the copy recurse until RecursionError: merge died (exit 3), no 汇编
    # for any unit, every month. Fixed: pages are copied in the sandbox, their nesting capped before the copy.
    rc, peak, output = stamped_in(workdir, "执法大队2023年5月工作情况（盖章）.pdf", chained_pdf())
    assert rc == 0, output
    assert peak < 500, f"peak RSS {peak:.0f} MB"
    from pypdf import PdfReader

    assert len(PdfReader(workdir / COMPILATION).pages) == 1  # the cover alone
    assert "未并入：交通运输综合行政执法大队：执法大队2023年5月工作情况（盖章）.pdf（无法并入：PDF对象嵌套超过100层，超过处理上限）" \
        in cover_text(workdir / COMPILATION)


@needs_rlimit  # run under an RLIMIT_AS cap, its peak read with resource.getrusage (MEASURED)
def test_a_stamped_scans_javascript_links_and_attachments_never_reach_the_compilation(workdir):
    # Found: a stamped scan carrying a page-open JavaScript action and a link to an outside address was copied
    # as it was into the bureau's own 材料汇编. Fixed: a page keeps only how it looks; the catalog is ours.
    rc, peak, output = stamped_in(workdir, "执法大队2023年5月工作情况（盖章）.pdf", active_pdf())
    assert rc == 0, output
    from pypdf import PdfReader

    data = (workdir / COMPILATION).read_bytes()
    joined = PdfReader(workdir / COMPILATION)
    assert len(joined.pages) == 2  # the cover and the scan
    assert [sorted(k for k in ("/Annots", "/AA") if k in p) for p in joined.pages] == [[], []]
    assert [k for k in ("/OpenAction", "/Names", "/AcroForm") if k in joined.trailer["/Root"]] == []
    assert [w for w in (b"evil.example", b"/JavaScript", b"/JS", b"/URI", b"/EmbeddedFile", b"MZ\x90")
            if w in data] == []
    assert b"/Im0" in data  # the picture itself is there


@needs_rlimit  # run under an RLIMIT_AS cap, its peak read with resource.getrusage (MEASURED)
@needs_pdftotext
def test_a_bilevel_tiff_of_25_huge_pages_is_refused_before_decoding(workdir):
    # Found: a 25-page bilevel TIFF (a few KB of fax-coded white pages) was accepted on its first page, and
    # `merge` decoded every frame in its own process — 12000×14000 pixels (under Pillow's own bomb limit), then
    # in RGB: most of a GB a page, while holding the intake lock. Fixed: the frames are re-rendered in the sandbox, their count, pixels and
    # the memory one takes decoded checked from the headers first.
    data = huge_tiff()
    assert len(data) < 64 * 1024
    rc, peak, output = stamped_in(workdir, "执法大队2023年5月工作情况（盖章）.tif", data)
    assert rc == 0, output
    assert peak < 500, f"peak RSS {peak:.0f} MB"
    from pypdf import PdfReader

    assert len(PdfReader(workdir / COMPILATION).pages) == 1
    assert ("（无法并入：第2页图片12000×14000解码需要约320MB内存，超过处理上限205MB）"
            in cover_text(workdir / COMPILATION))


# --- the measure: peak memory of ingest, merge and validate --markup on every hostile file -----------------

@needs_rlimit  # run under an RLIMIT_AS cap, its peak read with resource.getrusage (MEASURED)
def test_ingest_merge_and_validate_markup_stay_under_500_mb_on_every_hostile_file(workdir, tmp_path):
    # Every hostile file of this issue and of the fuzzing suite at once, through the three commands that
    # derive something from a unit's bytes; each command's peak resident memory (the largest of its processes)
    # measured. Before this issue: 2.8 GB (ingest), 2.5 GB (merge), 2.2 GB (validate --markup).
    from fuzz import damaged_xls, fuzz_files

    hostile = {"合并区域.xlsx": merged_range_xlsx(tmp_path / "a.xlsx").read_bytes(),
               "超链接区域.xlsx": hyperlinked_range_xlsx(tmp_path / "b.xlsx").read_bytes(),
               "fuzz_seed7.xls": damaged_xls((5137, 0x40), (6349, 0x08)),
               **{f.name: f.data for f in fuzz_files(seed=25, n=24)}}
    stamped = {"执法大队2023年5月工作情况（盖章）.pdf": chained_pdf(), "质监站2023年5月工作情况（盖章）.pdf": active_pdf(),
               "运输中心2023年5月工作情况（盖章）.tif": huge_tiff()}
    folders = {"执法大队": EXEC, "质监站": QUALITY, "运输中心": "区道路运输服务中心"}
    kept = tmp_path / "hostile"
    kept.mkdir()
    for name, data in hostile.items():
        (kept / name).write_bytes(data)
        (workdir / "inbox" / EXEC / name).write_bytes(data)
    for name, data in stamped.items():
        (workdir / "inbox" / folders[name[:4].rstrip("2")] / name).write_bytes(data)
    settled(workdir)
    peaks = {}
    rc, peaks["ingest"], output = measured(workdir, "ingest")
    assert rc == 1, output
    recorded = {name for (name,) in rows(workdir, "SELECT original_name FROM arrivals")}
    assert {"合并区域.xlsx", "超链接区域.xlsx", "fuzz_seed7.xls", *stamped} <= recorded  # a cut copy may still wait
    rc, peaks["merge"], output = measured(workdir, "merge", "--month", "2023-05", "--as-of", "2026-12-31T12:00")
    assert rc == 0, output
    rc, peaks["validate --markup"], output = measured(workdir, "validate", "--markup", str(tmp_path / "标注"),
                                                      *sorted(str(p) for p in kept.iterdir()))
    assert rc == 1, output
    assert {k: v for k, v in peaks.items() if v >= 500} == {}, peaks
    assert {"合并区域_错误标注.xlsx", "超链接区域_错误标注.xlsx"} <= {p.name for p in (tmp_path / "标注").iterdir()}


def test_pillows_own_bomb_limit_is_a_cap_with_a_reason_not_a_type_name():
    # A 100-megapixel PNG (a few KB) trips Pillow's own check when opened: the 汇编's cover names the cap,
    # never "DecompressionBombWarning".
    import io

    from PIL import Image

    from pipeline.core.config import Limits
    from pipeline.reading.derived import Refused, stamped_pages

    png = io.BytesIO()
    Image.new("1", (10000, 10000), 1).save(png, "PNG")
    with pytest.raises(Refused) as refused:
        stamped_pages(png.getvalue(), "png", Limits())
    assert refused.value.reason == "图片尺寸过大，超过处理上限"
