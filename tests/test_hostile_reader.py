"""The reader against hostile files: files that crash, hang, lie or overflow, and names of any bytes.

Real files, real child processes: the sandbox runs a worker process; the memory tests run a Python under a
real address-space cap and read its own peak RSS."""
import dataclasses
import json
import os
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from datetime import datetime, timezone
from pathlib import Path

import openpyxl
import pytest
import sandbox_jobs as jobs
from factory import COUNT_ORDER, SECTOR_ORDER, make_submission
from fuzz import FIXTURES, damaged_xls, fuzz_emls, fuzz_files
from helpers import needs_rlimit

from pipeline.core import config
from pipeline.core.config import Limits
from pipeline.reading.reader import ReadProblem, read_workbook
from pipeline.reading.sandbox import RemoteTraceback, Sandbox, SandboxFailure, SandboxPool, read_workbook_isolated
from pipeline.statistics.validate import validate_bytes, validate_workbook

NOW = datetime(2023, 6, 10, tzinfo=timezone.utc)
CFG = config.defaults()
POSIX_ONLY = needs_rlimit  # RLIMIT_AS: the sandbox's memory cap, and the cap these tests measure under


# --- the sandbox ------------------------------------------------------------------------------------

@pytest.fixture
def box():
    with Sandbox(Limits(parse_seconds=2)) as sandbox:
        yield sandbox


def test_a_child_that_aborts_fails_alone_and_the_next_call_works(box):
    assert box.run(jobs.echo, "before") == "before"
    with pytest.raises(SandboxFailure) as failed:
        box.run(jobs.abort)
    assert failed.value.kind == "crash" and "文件已损坏或过大" in failed.value.reason_zh
    assert box.run(jobs.echo, "after") == "after"
    assert box.starts == 2  # one worker before the abort, a fresh one after it


@POSIX_ONLY
def test_a_child_that_asks_for_2_gb_hits_the_memory_cap(box):
    with pytest.raises(SandboxFailure) as failed:
        box.run(jobs.allocate, 2048)
    assert failed.value.kind == "memory" and "512 MB" in failed.value.reason_zh
    assert box.run(jobs.allocate, 16) == 16 * 1024 * 1024  # a modest job in the new worker is fine


def test_a_child_that_loops_for_ever_is_stopped_at_the_time_limit(box):
    start = time.monotonic()
    with pytest.raises(SandboxFailure) as failed:
        box.run(jobs.spin)
    assert failed.value.kind == "timeout" and "2 秒" in failed.value.reason_zh
    assert 2 <= time.monotonic() - start < 6
    assert box.run(jobs.echo, 7) == 7


def test_a_child_that_exits_is_a_crash(box):
    with pytest.raises(SandboxFailure) as failed:
        box.run(jobs.exit_hard, 3)
    assert failed.value.kind == "crash" and "代码 3" in failed.value.reason_zh
    assert box.run(jobs.echo, 1) == 1


def test_exceptions_come_back_as_themselves_with_the_childs_traceback(box):
    with pytest.raises(ValueError, match="坏了") as raised:
        box.run(jobs.raise_value_error, "坏了")
    assert isinstance(raised.value.__cause__, RemoteTraceback)
    assert "raise_value_error" in str(raised.value.__cause__)
    with pytest.raises(ReadProblem) as problem:
        box.run(read_workbook, b"%PDF-1.7 fake", Limits())
    assert problem.value.code == "E_UNREADABLE" and "PDF" in problem.value.reason
    assert box.starts == 1  # an exception is an answer, not a failure of the worker


def test_the_worker_is_warm_and_stops_with_the_context(tmp_path):
    with Sandbox(Limits()) as sandbox:
        sandbox.run(jobs.echo, 0)  # the start is paid once
        pid = sandbox.pid
        start = time.perf_counter()
        for i in range(300):
            assert sandbox.run(jobs.echo, i) == i
        per_call = (time.perf_counter() - start) / 300
        assert sandbox.starts == 1 and sandbox.pid == pid
    assert per_call < 0.005, per_call  # measured ~0.03 ms; a fresh process per call costs ~60 ms
    assert sandbox.pid is None


def test_the_worker_lacks_resource_exactly_where_this_process_does_and_reads_all_the_same():
    # On Windows, and in the Windows lane of .ci/run, neither has it: the worker then runs without a memory cap.
    with Sandbox(Limits()) as sandbox:
        assert sandbox.run(jobs.importable, "resource") == jobs.importable("resource")
        data = (FIXTURES / "lo_template.xls").read_bytes()
        assert sandbox.run(read_workbook, data, CFG.limits) == read_workbook(data, CFG.limits)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on Windows")
def test_a_forked_child_gets_its_own_worker_and_leaves_the_parents_alone():
    data = (FIXTURES / "lo_template.xls").read_bytes()
    expected = read_workbook_isolated(data, CFG.limits)  # the parent's shared worker runs
    pid = os.fork()
    if pid == 0:  # the child, as in a fork-based process pool
        code = 1
        try:
            code = 0 if read_workbook_isolated(data, CFG.limits) == expected else 2
        finally:
            os._exit(code)  # never back into pytest
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert read_workbook_isolated(data, CFG.limits) == expected  # the parent's worker still answers


def test_a_pool_serves_several_threads_and_survives_a_crash_among_them():
    from concurrent.futures import ThreadPoolExecutor

    datas = [(FIXTURES / name).read_bytes() for name in ("lo_template.xls", "lo_template.ods")] * 20
    with SandboxPool(Limits(), workers=2) as pool, ThreadPoolExecutor(4) as threads:
        books = list(threads.map(lambda d: pool.run(read_workbook, d, Limits()), datas))
        assert [b.kind for b in books] == ["xls", "ods"] * 20
        assert pool.starts == 2
        with pytest.raises(SandboxFailure):
            pool.run(jobs.abort)
        assert list(threads.map(lambda i: pool.run(jobs.echo, i), range(10))) == list(range(10))
        assert pool.starts == 3


def test_read_workbook_isolated_gives_what_read_workbook_gives():
    for name in ("lo_template.xls", "lo_template.ods", "lo_template_recalculated.xlsx"):
        data = (FIXTURES / name).read_bytes()
        assert read_workbook_isolated(data, CFG.limits) == read_workbook(data, CFG.limits)


@POSIX_ONLY
def test_a_reader_abort_in_the_child_is_unreadable_and_the_parent_goes_on():
    # Two bytes of cell records changed in the 12.8 KB LibreOffice .xls (found by tests/fuzz.py, seed 7):
    # calamine then asks for about 1 GB and, refused, aborts its process. Here only the worker goes.
    bad = damaged_xls((5137, 0x40), (6349, 0x08))
    assert len(bad) == 12800
    with pytest.raises(SandboxFailure) as failed:
        read_workbook_isolated(bad, CFG.limits)
    assert failed.value.kind == "memory" and "文件已损坏或过大" in failed.value.reason_zh
    book = read_workbook_isolated((FIXTURES / "lo_template.xls").read_bytes(), CFG.limits)
    assert validate_workbook(book, CFG, NOW).ok


@POSIX_ONLY
def test_a_rust_backtrace_setting_does_not_hide_that_memory_ran_out(monkeypatch):
    # With RUST_BACKTRACE set, calamine's one line "memory allocation of … failed" was followed by a
    # backtrace of more lines than the worker keeps, and the failure was told as a crash.
    monkeypatch.setenv("RUST_BACKTRACE", "full")
    with Sandbox(CFG.limits) as fresh, pytest.raises(SandboxFailure) as failed:
        fresh.run(read_workbook, damaged_xls((5137, 0x40), (6349, 0x08)), CFG.limits)
    assert failed.value.kind == "memory"


# --- the reader: costs are linear and bounded ---------------------------------------------------------

def test_80000_formula_cells_validate_without_the_old_22_second_scan(tmp_path):
    path = make_submission(tmp_path / "many.xlsx", layout="retyped")
    wb = openpyxl.load_workbook(path)
    ws = wb.create_sheet("计算")
    for r in range(1, 801):
        for c in range(1, 101):
            ws.cell(r, c, f"=ROW()*{c}")
    wb.save(path)
    data = path.read_bytes()
    start = time.perf_counter()
    v = validate_bytes(data, CFG, NOW)
    elapsed = time.perf_counter() - start
    assert v.ok and v.unit == "交通运输综合行政执法大队"
    calc = next(s for s in v.workbook.sheets if s.name == "计算")
    assert len(calc.formulas) == 80_000 and (799, 99) in calc.formulas
    assert calc.no_cached_value == calc.formulas  # openpyxl stores no results
    assert elapsed < 10, elapsed  # a safety bound, not a speed test: measured ~0.3 s; the old scan took 22 s


def lying_zip(src: Path, dst: Path, member: str, megabytes: int = 4000, declared: int = 4096) -> Path:
    """`member` replaced by ~4 MB of deflate that inflates to `megabytes` MB, while both its headers say
    `declared` bytes with the CRC of the first `declared` bytes: Python's zipfile stops at the declared size
    and finds the CRC right; a reader that inflates to the end of the stream needs gigabytes."""
    prefix = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
              b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = co.compress(prefix) + co.flush(zlib.Z_FULL_FLUSH)
    block = co.compress(b" " * (1024 * 1024)) + co.flush(zlib.Z_FULL_FLUSH)  # each MB alike after a full flush
    raw = first + block * megabytes + co.flush()
    crc = zlib.crc32((prefix + b" " * declared)[:declared])
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            if item.filename == member:  # stored as-is, then relabelled as deflated below
                zout.writestr(zipfile.ZipInfo(member, item.date_time), raw, zipfile.ZIP_STORED)
            else:
                zout.writestr(item, zin.read(item), zipfile.ZIP_DEFLATED)
    data = bytearray(dst.read_bytes())
    name = member.encode()
    for signature, name_len_at, name_at, method_at in ((b"PK\x03\x04", 26, 30, 8), (b"PK\x01\x02", 28, 46, 10)):
        pos = data.index(signature)
        while data[pos + name_at:pos + name_at + struct.unpack_from("<H", data, pos + name_len_at)[0]] != name:
            pos = data.index(signature, pos + 4)
        struct.pack_into("<H", data, pos + method_at, zipfile.ZIP_DEFLATED)
        struct.pack_into("<III", data, pos + method_at + 6, crc, len(raw), declared)  # crc, compressed, size
    dst.write_bytes(bytes(data))
    return dst


CAPPED_READ = """
import json, resource, sys
cap = 300 * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from pipeline.core.config import Limits
from pipeline.reading.reader import ReadProblem, read_workbook
try:
    read_workbook(open(sys.argv[1], "rb").read(), Limits())
    answer = {"code": None}
except ReadProblem as problem:
    answer = {"code": problem.code, "reason": problem.reason}
try:  # this process's own high-water mark (ru_maxrss can carry the forking parent's over exec)
    status = open("/proc/self/status").read()
    answer["peak_mb"] = int(status.split("VmHWM:")[1].split()[0]) / 1024
except (OSError, IndexError):
    answer["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(answer))
"""


@POSIX_ONLY
def test_a_zip_member_that_lies_about_its_size_is_refused_in_little_memory(tmp_path):
    src = make_submission(tmp_path / "good.xlsx")
    bad = lying_zip(src, tmp_path / "lying.xlsx", "xl/worksheets/sheet1.xml")
    assert 4_000_000 < bad.stat().st_size < 5_000_000
    with zipfile.ZipFile(bad) as z:  # what the headers claim, and zipfile believes
        assert z.getinfo("xl/worksheets/sheet1.xml").file_size == 4096
        assert len(z.read("xl/worksheets/sheet1.xml")) == 4096
    proc = subprocess.run([sys.executable, "-c", CAPPED_READ, str(bad)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["code"] == "E_UNREADABLE"
    assert answer["reason"] == "部件 xl/worksheets/sheet1.xml 解压后比它声明的 4096 字节大（疑似压缩炸弹），不予读取"
    assert answer["peak_mb"] < 300, answer  # measured ~25 MB, most of it the interpreter and its libraries


def test_a_lie_in_a_part_only_calamine_would_read_is_caught_too(tmp_path):
    src = make_submission(tmp_path / "good.xlsx")
    bad = lying_zip(src, tmp_path / "styles.xlsx", "xl/styles.xml", megabytes=300)
    start = time.perf_counter()
    with pytest.raises(ReadProblem) as problem:
        read_workbook(bad.read_bytes(), CFG.limits)
    assert problem.value.reason == "部件 xl/styles.xml 解压后比它声明的 4096 字节大（疑似压缩炸弹），不予读取"
    assert time.perf_counter() - start < 1  # abandoned at the first megabyte, not inflated to the end


def _with_member(src: Path, dst: Path, name: str, data: bytes) -> Path:
    """`src` written again with one more member (or one replaced), as a zip tool would."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if item.filename != name:
                zout.writestr(item, zin.read(item))
        zout.writestr(name, data)
    return dst


def test_small_and_large_members_are_checked_alike(tmp_path):
    """Members up to a megabyte are inflated in one call, larger ones in pieces: the same checks either way
    (a wrong checksum, a DOCTYPE), and a large member that is in order is read."""
    src = make_submission(tmp_path / "good.xlsx")
    big = os.urandom(3 * 1024 * 1024)  # does not compress: over a megabyte inflated and compressed
    ok = _with_member(src, tmp_path / "big.xlsx", "xl/media/image1.bin", big)
    assert read_workbook(ok.read_bytes(), CFG.limits).sheets[0].name == "附件2"
    doctype = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>' + os.urandom(800_000).hex().encode() + b"</x>"
    for name, body in (("docProps/custom.xml", doctype[:2000] + b"</x>"), ("docProps/custom.xml", doctype)):
        bad = _with_member(src, tmp_path / f"doctype{len(body)}.xlsx", name, body)
        with pytest.raises(ReadProblem) as problem:
            read_workbook(bad.read_bytes(), CFG.limits)
        assert problem.value.reason == "部件 docProps/custom.xml 含有 XML 实体声明（DOCTYPE），出于安全原因不予读取"
    for name, body in (("xl/media/small.bin", b"x" * 1000), ("xl/media/image1.bin", big)):
        good = _with_member(src, tmp_path / "crc.xlsx", name, body)
        data = bytearray(good.read_bytes())
        with zipfile.ZipFile(good) as z:
            crc = struct.pack("<I", z.getinfo(name).CRC)
        central = data.rfind(name.encode()) - 46  # its central directory entry (the name at +46, the CRC at +16)
        assert data[central + 16:central + 20] == crc
        data[central + 16] ^= 0xFF
        with pytest.raises(ReadProblem) as problem:
            read_workbook(bytes(data), CFG.limits)
        assert problem.value.reason == "文件不完整或已损坏（压缩数据无法解开）", name


def test_the_value_parser_reads_only_what_was_checked(tmp_path):
    """calamine is given the zip made again from the members as inflated and checked here, all stored: it
    inflates nothing itself. A workbook whose members do not fit in 16 MB is read from the original (whose
    every member was checked the same way)."""
    import io

    from pipeline.reading.zipped import _Members

    src = make_submission(tmp_path / "good.xlsx")
    data = src.read_bytes()
    with zipfile.ZipFile(src) as z:
        members = _Members(data, z.infolist(), CFG.limits)
        members.check_rest()
        with zipfile.ZipFile(io.BytesIO(members.checked_copy())) as copy:
            assert [i.filename for i in copy.infolist()] == z.namelist()
            assert {i.compress_type for i in copy.infolist()} == {zipfile.ZIP_STORED}
            assert all(copy.read(name) == z.read(name) for name in z.namelist())  # checksums checked too
    for megabytes, copied in ((3, True), (17, False)):  # over a megabyte: inflated in pieces, kept all the same
        big = _with_member(src, tmp_path / "big.xlsx", "xl/media/image1.bin", os.urandom(megabytes * 1024 * 1024))
        with zipfile.ZipFile(big) as z:
            members = _Members(big.read_bytes(), z.infolist(), CFG.limits)
            members.check_rest()
            assert (members.checked_copy() is not None) == copied
        assert read_workbook(big.read_bytes(), CFG.limits).sheets[0].rows == read_workbook(data, CFG.limits).sheets[0].rows


@pytest.mark.parametrize("part", [
    b'<?xml version="1.0"?><!-- <a --><!DOCTYPE x [<!ENTITY e "b">]><x>&e;</x>',  # a `<a` in a comment
    b'<?xml version="1.0"?><?pi <a?><!DOCTYPE x [<!ENTITY e "b">]><x>&e;</x>',    # ... in an instruction
    b'<!--\n<styleSheet>--><!DOCTYPE x [<!ENTITY e "b">]><styleSheet/>',
])
def test_a_doctype_behind_a_comment_is_still_found(tmp_path, part):
    """The root element is looked for past comments and processing instructions: what they hold cannot
    end the prolog early and let a DOCTYPE through."""
    bad = _with_member(make_submission(tmp_path / "good.xlsx"), tmp_path / "bad.xlsx", "xl/styles.xml", part)
    with pytest.raises(ReadProblem) as problem:
        read_workbook(bad.read_bytes(), CFG.limits)
    assert problem.value.reason == "部件 xl/styles.xml 含有 XML 实体声明（DOCTYPE），出于安全原因不予读取"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_part_in_utf16_is_judged_on_its_text(tmp_path, encoding):
    """UTF-16 parts are allowed by the standard (document management systems write their customXml so): a
    plain one is read, one whose prolog declares a DOCTYPE is refused all the same; an XML part in another
    encoding with zero bytes (UTF-32) is refused."""
    src = make_submission(tmp_path / "good.xlsx")
    plain = '<?xml version="1.0" encoding="UTF-16"?><ds:datastoreItem xmlns:ds="x"/>'.encode(encoding)
    fine = _with_member(src, tmp_path / "fine.xlsx", "customXml/itemProps1.xml", plain)
    assert read_workbook(fine.read_bytes(), CFG.limits).sheets[0].name == "附件2"
    part = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY e "b">]><x/>'.encode(encoding)
    for name in ("customXml/item1.xml", "customXml/item1.bin"):  # refused by its text, whatever its name
        bad = _with_member(src, tmp_path / "bad.xlsx", name, part)
        with pytest.raises(ReadProblem) as problem:
            read_workbook(bad.read_bytes(), CFG.limits)
        assert problem.value.reason == f"部件 {name} 含有 XML 实体声明（DOCTYPE），出于安全原因不予读取"
    utf32 = _with_member(src, tmp_path / "utf32.xlsx", "customXml/item2.xml", '<x/>'.encode("utf-32"))
    with pytest.raises(ReadProblem) as problem:
        read_workbook(utf32.read_bytes(), CFG.limits)
    assert problem.value.reason == "部件 customXml/item2.xml 的编码异常（不是 UTF-8 或 UTF-16），出于安全原因不予读取"


def test_a_sheet_under_another_name_is_checked_by_its_content(tmp_path):
    """A relationship can send calamine to a part of any name: a DOCTYPE is looked for in every part that
    starts as XML, and a binary part that only happens to start with `<` (an obfuscated font) is left
    alone."""
    src = make_submission(tmp_path / "good.xlsx")
    with zipfile.ZipFile(src) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
        rels = z.read("xl/_rels/workbook.xml.rels")
    body = sheet[sheet.index(b"?>") + 2:] if sheet.startswith(b"<?xml") else sheet
    doctype = b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e "b">]>' + body
    moved = _with_member(src, tmp_path / "moved.xlsx", "xl/worksheets/sheet1.bin", doctype)
    moved = _with_member(moved, tmp_path / "moved2.xlsx", "xl/_rels/workbook.xml.rels",
                         rels.replace(b"worksheets/sheet1.xml", b"worksheets/sheet1.bin"))
    with pytest.raises(ReadProblem) as problem:
        read_workbook(moved.read_bytes(), CFG.limits)
    assert problem.value.reason == "部件 xl/worksheets/sheet1.bin 含有 XML 实体声明（DOCTYPE），出于安全原因不予读取"
    font = b"<Ab\x00\x01\x02" + os.urandom(70_000)
    fonts = _with_member(src, tmp_path / "font.xlsx", "xl/fonts/font1.odttf", font)
    assert read_workbook(fonts.read_bytes(), CFG.limits).sheets[0].name == "附件2"


def test_names_a_zip_tool_would_cut_or_not_fit(tmp_path):
    """A name with a NUL byte (zipfile cuts it there, another reader may not) is refused; a name too long to
    write again in UTF-8 leaves calamine the original file, with no internal error."""
    src = make_submission(tmp_path / "good.xlsx")
    def renamed(name: bytes, to: bytes) -> bytes:  # in the local header and the directory, as a tool may write
        data = _with_member(src, tmp_path / "named.xlsx", name.decode(), b"x").read_bytes()
        assert data.count(name) == 2
        return data.replace(name, to)

    nul = renamed(b"xl/worksheets/sheet2.xmlZ.bin", b"xl/worksheets/sheet2.xml\x00.bin")
    with pytest.raises(ReadProblem) as problem:
        read_workbook(nul, CFG.limits)
    assert problem.value.reason == "部件名称 xl/worksheets/sheet2.xml 含有空字符（疑似恶意文件），出于安全原因不予读取"
    long = renamed(b"xl/" + b"x" * 30000, b"xl/" + b"\xb0" * 30000)  # cp437 `░`: three bytes in UTF-8
    assert read_workbook(long, CFG.limits).sheets[0].name == "附件2"


def test_too_many_members_are_counted_from_the_end_record(tmp_path):
    path = tmp_path / "many.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        for i in range(2000):
            z.writestr(f"xl/media/{i}.bin", b"")
    with pytest.raises(ReadProblem) as problem:
        read_workbook(path.read_bytes(), CFG.limits)
    assert problem.value.reason == "压缩包内有 2001 个部件，超过上限 2000"


def test_xls_with_impossible_dimensions_is_refused_before_calamine():
    # DIMENSIONS of the sheet with its first row after its last: calamine would size its grid by it
    data = (FIXTURES / "lo_template.xls").read_bytes()
    at = data.index(bytes.fromhex("0002 0e00 00000000 11000000 0000 0d00".replace(" ", "")))
    bad = bytearray(data)
    bad[at + 4:at + 8] = (0x7F000000).to_bytes(4, "little")
    with pytest.raises(ReadProblem) as problem:
        read_workbook(bytes(bad), CFG.limits)
    assert problem.value.reason == "文件已损坏（工作表的范围超出了 .xls 格式的上限）"


@pytest.mark.parametrize("cut", [512, 4096, 12800 - 1024])
def test_a_cut_short_xls_is_refused_by_its_header(cut):
    data = (FIXTURES / "lo_template.xls").read_bytes()[:cut]
    with pytest.raises(ReadProblem) as problem:
        read_workbook(data, CFG.limits)
    assert "OLE" in problem.value.reason


def test_a_malformed_ods_is_unreadable(tmp_path):
    src = FIXTURES / "lo_template.ods"
    bad = tmp_path / "bad.ods"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "content.xml":
                data = data[: len(data) // 2]  # a table cut off mid-element
            zout.writestr(item.filename, data, zipfile.ZIP_STORED if item.filename == "mimetype" else None)
    v = validate_bytes(bad.read_bytes(), CFG, NOW)
    assert [i.code for i in v.issues] == ["E_UNREADABLE"]
    assert "无法解析" in v.issues[0].message


# --- the fuzz run -------------------------------------------------------------------------------------

def test_fuzz_files_are_deterministic():
    a, b = fuzz_files(3, 24), fuzz_files(3, 24)
    assert [(f.name, f.data) for f in a] == [(f.name, f.data) for f in b]
    assert len({f.data for f in a}) == 24
    assert {f.name.rsplit(".", 1)[1] for f in a} == {"xls", "xlsx", "ods"}
    emails = fuzz_emls(3, 12)
    assert [e.data for e in emails] == [e.data for e in fuzz_emls(3, 12)]


def test_300_fuzzed_workbooks_end_as_data_or_unreadable(tmp_path):
    outcomes = {"data": 0, "unreadable": 0, "sandbox": 0}
    start = time.monotonic()
    for f in fuzz_files(12, 300):
        try:
            book = read_workbook_isolated(f.data, CFG.limits)
        except ReadProblem as problem:
            assert problem.code in ("E_UNREADABLE", "E_ENCRYPTED"), f.how
            outcomes["unreadable"] += 1
            continue
        except SandboxFailure:
            outcomes["sandbox"] += 1
            continue
        v = validate_workbook(book, CFG, NOW)  # any other exception fails the test, naming the file
        assert isinstance(v.ok, bool), f.how
        outcomes["data"] += 1
    elapsed = time.monotonic() - start
    assert sum(outcomes.values()) == 300
    assert outcomes["data"] > 30 and outcomes["unreadable"] > 100, outcomes  # the damage is varied, not all fatal
    assert elapsed < 60, elapsed  # measured ~1 s
    good = (FIXTURES / "lo_template.ods").read_bytes()
    assert validate_workbook(read_workbook_isolated(good, CFG.limits), CFG, NOW).ok  # and the worker still serves


# --- numbers of any size ------------------------------------------------------------------------------

from decimal import Decimal  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pipeline.core.normalize import MAX_COUNT, count, is_whole  # noqa: E402
from pipeline.core.safe_names import csv_cell, display_name, safe_filename  # noqa: E402
from pipeline.intake.receipts import receipt_text  # noqa: E402


@pytest.mark.parametrize("raw,shown", [
    (1e19, "10000000000000000000"),
    ("1e400", "1e400"),
    (5e18, "5000000000000000000"),
    ("12,345,678,901", "12,345,678,901"),
    (10_000_001, "10000001"),
    ("-1e400", "-1e400"),  # (an infinity cannot be stored in a workbook; count(inf) is in the property test)
    ("1e-400", "1e-400"),
])
def test_a_count_out_of_range_is_not_a_number_and_names_its_cell(tmp_path, raw, shown):
    path = make_submission(tmp_path / "big.xlsx", cells={("traffic", "major_hazards"): raw})
    v = validate_bytes(path.read_bytes(), CFG, NOW)
    assert [(i.code, i.cell) for i in v.issues] == [("E_VALUE_TYPE", "E9")]
    assert v.issues[0].message.startswith(f"E9 交通安全·重大隐患数 填的是“{shown}”，")
    assert v.counts == {}


def test_the_largest_count_is_accepted_and_the_limit_is_config(tmp_path):
    values = {s: {m: 0 for m in COUNT_ORDER} for s in SECTOR_ORDER}
    values["traffic"].update(inspection_teams=1, inspectors=10_000_000)
    data = make_submission(tmp_path / "max.xlsx", values=values).read_bytes()
    v = validate_bytes(data, CFG, NOW)
    assert v.ok and v.counts["traffic"]["inspectors"] == 10_000_000
    assert v.values["total"]["inspectors"] == 10_000_000
    tighter = validate_bytes(data, dataclasses.replace(CFG, limits=Limits(max_count=1000)), NOW)
    assert [(i.code, i.cell) for i in tighter.issues] == [("E_VALUE_TYPE", "C9")]
    assert "超出计数的上限 1,000（" in tighter.issues[0].message


number_text = st.one_of(
    st.from_regex(r"\A[+-]?\d{1,30}(\.\d{0,10})?([eE][+-]?\d{1,4})?\Z"),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.integers(min_value=0, max_value=10**12).map(lambda n: f"{n:,}"),
)


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10**400, max_value=10**400),
                 number_text, number_text.map(lambda t: t + "项")))
def test_any_accepted_count_is_finite_and_within_the_maximum(raw):
    parsed = count(raw)
    if parsed.value is None:
        assert parsed.problem
        return
    assert parsed.value == parsed.value and abs(parsed.value) <= MAX_COUNT  # finite: not NaN, and bounded
    if isinstance(raw, str):  # within range, text reads as it always did
        text = raw.removesuffix("项").replace(",", "")
        assert parsed.value == float(text)
        off = abs(Decimal(text) - Decimal(text).to_integral_value())  # how far from a whole number, exactly
        if off == 0:
            assert is_whole(parsed.value)  # then E_FRACTION never fires
        elif off > Decimal("1e-6"):
            assert not is_whole(parsed.value)  # and here it does
    else:
        assert parsed.value == float(raw)


@given(st.integers(min_value=-MAX_COUNT, max_value=MAX_COUNT))
def test_every_count_up_to_the_maximum_is_accepted(n):
    assert count(n).value == n and count(str(n)).value == n and count(float(n)).value == n


# --- names of any bytes -------------------------------------------------------------------------------

INVISIBLE = {"Cc", "Cf", "Cs", "Zl", "Zp"}
any_text = st.text(st.characters(exclude_categories=()), max_size=300)  # surrogates included
any_name = st.one_of(any_text, st.binary(max_size=300).map(os.fsdecode),
                     st.text(st.sampled_from("\U00020000.a \r\n\t.\u202e~$"), max_size=120))


def _categories(text):
    import unicodedata

    return {unicodedata.category(ch) for ch in text}


@given(any_name, st.integers(min_value=1, max_value=255), st.integers(min_value=1, max_value=200))
def test_safe_filename_always_fits_and_is_clean(name, max_bytes, max_len):
    out = safe_filename(name, max_len=max_len, max_bytes=max_bytes)
    assert out and len(out) <= max_len
    assert len(out.encode("utf-8")) <= max_bytes  # strict: no surrogate survives
    assert not _categories(out) & INVISIBLE
    assert not set(out) & set('<>:"/\\|?*')
    assert not out.startswith(".") and not out.endswith((".", " "))
    assert out.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}
    assert safe_filename(out, max_len=max_len, max_bytes=max_bytes) == out


@given(any_name, st.integers(min_value=8, max_value=200))
def test_display_name_is_one_visible_line(name, max_chars):
    out = display_name(name, max_chars)
    assert len(out) <= max_chars
    out.encode("utf-8")  # strict
    assert not _categories(out) & INVISIBLE
    assert "\r" not in out and "\n" not in out


@given(any_text)
def test_csv_cell_never_starts_like_a_formula(text):
    out = csv_cell(text)
    assert not out.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert out in (text, "'" + text)


def test_named_hostile_names_on_a_real_filesystem(tmp_path):
    prefix = "20230605-093000_0123456789_"
    for raw in (b"\xb5\xa5\xce\xbb\xb1\xa8\xb1\xed.xlsx",  # GBK bytes: not UTF-8
                ("\U00020000" * 60 + ".xlsx").encode(), b"a\r\nb\x07c.xlsx", b"..x.xlsx", ("长" * 200 + ".xlsx").encode()):
        name = safe_filename(os.fsdecode(raw), max_len=255, max_bytes=255 - len(prefix.encode()))
        assert name.endswith(".xlsx")
        (tmp_path / (prefix + name)).write_bytes(b"x")  # the filesystem takes it
        assert len((prefix + name).encode()) <= 255
    assert safe_filename("..x.xlsx") == "x.xlsx"
    assert safe_filename("\U00020000" * 60 + ".xlsx", max_len=255, max_bytes=100) == "\U00020000" * 23 + ".xlsx"
    assert display_name("a\r\nb\tc.xlsx") == "a␍␊b␉c.xlsx"
    assert display_name(os.fsdecode(b"\xb5\xa5.xlsx")) == "单.xlsx"  # GBK bytes on a Chinese share read as GBK
    assert display_name("\u202eslx.exe") == "\ufffdslx.exe"
    assert csv_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")" and csv_cell("交通") == "交通"


def test_a_line_break_in_a_name_cannot_forge_a_receipt_line():
    forged = "报表.xlsx\r\n结果：已受理\r\n"
    text = receipt_text(CFG, original_name=forged, received_at=NOW, received_rule="file", unit=None, year=None,
                        month_from=None, month_to=None, outcome="rejected",
                        issues=[{"code": "E_UNREADABLE", "severity": "error", "message": "坏了\r\n结果：已受理"}],
                        attachments=["a\nb.xlsx"])
    lines = text.split("\r\n")
    assert "文件：报表.xlsx␍␊结果：已受理␍␊" in lines
    assert [line for line in lines if line.startswith("结果：")] == ["结果：退回 —— 请按下列说明修改后重新报送"]
    assert "  - a␊b.xlsx" in lines


@POSIX_ONLY
def test_validate_bytes_isolated_turns_a_dying_reader_into_e_unreadable():
    good = validate_bytes((FIXTURES / "lo_template.xls").read_bytes(), CFG, NOW, isolated=True)
    assert good.ok and good.unit == "交通质量和安全监督站"
    bad = validate_bytes(damaged_xls((5137, 0x40), (6349, 0x08)), CFG, NOW, isolated=True)
    assert [i.code for i in bad.issues] == ["E_UNREADABLE"] and "文件已损坏或过大" in bad.issues[0].message
    pdf = validate_bytes(b"%PDF-1.7", CFG, NOW, isolated=True)
    assert [i.code for i in pdf.issues] == ["E_UNREADABLE"] and "PDF" in pdf.issues[0].message
