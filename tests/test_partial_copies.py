"""Readiness that a partial copy cannot fool (spec 13), on real files and real processes: a writer process that
pauses after the first `%%EOF` of an incrementally updated PDF or in the middle of an e-mail's MIME body, a
writer that keeps a whole workbook open, a file replaced between the readiness look and the read, a 3 GiB
sparse file over the size limit (bytes read counted by /proc/self/io of the real `ingest` process)."""
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from factory import make_email, make_submission
from helpers import edit_config, ingest, rows, run_cli

import pipeline.intake.ingest as ingest_module
from pipeline.core import config
from pipeline.intake.workspace import init
from pipeline.reading.readiness import FRESH, WRITING, container_complete, wait_reason

EXEC = "交通运输综合行政执法大队"
LINUX_ONLY = pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(),
                                reason="who holds a file open is read from /proc (Linux)")

# Writes its first part, says "paused" and waits for a line on stdin, then writes the rest. With "close"
# it closes the file while it pauses (a copy that reopens to append); else it keeps it open for writing.
WRITER = textwrap.dedent("""
    import sys
    target, first, rest, mode = sys.argv[1:5]
    f = open(target, "wb")
    f.write(open(first, "rb").read()); f.flush()
    if mode == "close":
        f.close()
    print("paused", flush=True)
    sys.stdin.readline()
    if mode == "close":
        f = open(target, "ab")
    f.write(open(rest, "rb").read())
    f.close()
    print("done", flush=True)
""")


class Writer:
    """A real process copying `first + rest` to `target`, pausing in between until `finish()`."""

    def __init__(self, tmp_path: Path, target: Path, first: bytes, rest: bytes, mode: str):
        (tmp_path / "first.bin").write_bytes(first)
        (tmp_path / "rest.bin").write_bytes(rest)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target), str(tmp_path / "first.bin"),
                                      str(tmp_path / "rest.bin"), mode],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "paused"  # blocks until the writer has paused

    def finish(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.close()
        done = self.proc.stdout.readline().strip()
        self.proc.stdout.close()
        assert self.proc.wait(timeout=60) == 0 and done == "done"


def arrivals(work):
    return rows(work, "SELECT original_name, sha256, size FROM arrivals ORDER BY id")


def incremental_pdf() -> tuple[bytes, bytes]:
    """A one-page PDF (first revision, ending in `%%EOF`) and the incremental update a stamping tool appends
    (an Info dictionary, its own xref section and a second `%%EOF`)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    first = bytes(out)
    info = len(out)
    out += b"4 0 obj\n<< /Producer (stamp) >>\nendobj\n"
    xref2 = len(out)
    out += b"xref\n0 1\n0000000000 65535 f \n4 1\n%010d 00000 n \n" % info
    out += b"trailer\n<< /Size 5 /Root 1 0 R /Info 4 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (xref, xref2)
    return first, bytes(out[len(first):])


@pytest.fixture
def work(tmp_path):
    init(tmp_path / "work")
    edit_config(tmp_path / "work", "stable_seconds = 2.0", "stable_seconds = 0.3")
    return tmp_path / "work"


def test_a_pdf_copy_pausing_after_the_first_eof_of_an_incremental_update_is_not_taken(work, tmp_path):
    first, rest = incremental_pdf()
    half = tmp_path / "half.pdf"
    half.write_bytes(first)
    cfg = config.load(work / "config.toml")
    st = half.stat()
    # the first revision ends in `%%EOF`, as a whole PDF does: the format alone cannot tell, the window must
    assert container_complete(half) is None
    assert wait_reason(half, st, cfg, st.st_mtime + 0.1, writers=set()) == FRESH
    target = work / "inbox" / EXEC / "盖章扫描件.pdf"
    writer = Writer(tmp_path, target, first, rest, mode="open")
    try:
        result = run_cli(work, "ingest")
        assert result.returncode == 0, result.stderr
        assert arrivals(work) == [] and target.read_bytes() == first  # neither taken half nor removed
        assert "等待  盖章扫描件.pdf" in result.stderr
    finally:
        writer.finish()
    result = run_cli(work, "ingest")
    (row,) = arrivals(work)
    assert row == ("盖章扫描件.pdf", hashlib.sha256(first + rest).hexdigest(), 497)
    assert not target.exists()


def test_an_email_pausing_in_the_middle_of_its_mime_body_waits_for_the_closing_boundary(work, tmp_path):
    data = make_email("执法大队 <zfdd@yx.gov.cn>", [("附件2.xlsx", make_submission(tmp_path / "a.xlsx").read_bytes())])
    cut = data.index(b"Content-Disposition: attachment") + 200  # inside the attachment's base64
    target = work / "inbox" / "5月附件2.eml"
    writer = Writer(tmp_path, target, data[:cut], data[cut:], mode="close")  # closed while it pauses
    try:
        old = target.stat().st_mtime - 60  # stable for a minute: only the MIME structure can tell
        os.utime(target, (old, old))
        assert container_complete(target) is False
        result = run_cli(work, "ingest")
        assert result.returncode == 0, result.stderr
        assert "等待  5月附件2.eml：文件尚未写完整（正在复制或保存），写完后再处理" in result.stderr
        assert arrivals(work) == [] and target.read_bytes() == data[:cut]
    finally:
        writer.finish()
    assert container_complete(target) is True
    run_cli(work, "ingest")
    assert [(name, sha) for name, sha, _size in arrivals(work)][0] == ("5月附件2.eml", hashlib.sha256(data).hexdigest())
    assert not target.exists()


@LINUX_ONLY
def test_a_whole_workbook_still_open_for_writing_is_neither_taken_nor_removed(work, tmp_path):
    data = make_submission(tmp_path / "src.xlsx").read_bytes()
    target = work / "inbox" / EXEC / "附件2.xlsx"
    # the whole workbook is written (its zip directory is there) but the writer has not closed it yet
    writer = Writer(tmp_path, target, data, b"", mode="open")
    try:
        assert container_complete(target) is True
        old = target.stat().st_mtime - 60
        os.utime(target, (old, old))
        result = run_cli(work, "ingest")
        assert result.returncode == 0, result.stderr
        assert f"等待  附件2.xlsx：{WRITING}" in result.stderr
        assert arrivals(work) == [] and target.read_bytes() == data
    finally:
        writer.finish()
    result = run_cli(work, "ingest")
    assert result.returncode == 0, result.stderr
    assert arrivals(work) == [("附件2.xlsx", hashlib.sha256(data).hexdigest(), len(data))]
    assert not target.exists()


def test_a_file_replaced_between_the_readiness_look_and_the_read_keeps_its_first_version(workdir, tmp_path, monkeypatch):
    first = make_submission(workdir / "inbox" / EXEC / "附件2.xlsx", filler="张三").read_bytes()
    second = make_submission(tmp_path / "second.xlsx", filler="李四").read_bytes()
    target = workdir / "inbox" / EXEC / "附件2.xlsx"
    real = ingest_module.wait_reason

    def look_then_replace(*args, **kwargs):
        reason = real(*args, **kwargs)
        if not (tmp_path / "replaced").exists():  # the unit saves a new version right after the look
            (tmp_path / "replaced").touch()
            os.replace(tmp_path / "second.xlsx", target)
        return reason

    monkeypatch.setattr(ingest_module, "wait_reason", look_then_replace)
    ingest(workdir, now="2023-06-10T09:00")
    assert [sha for _n, sha, _s in arrivals(workdir)] == [hashlib.sha256(first).hexdigest()]
    assert target.read_bytes() == second  # the new version is not removed with the first: it is the next arrival
    ingest(workdir, now="2023-06-10T09:05")
    assert [sha for _n, sha, _s in arrivals(workdir)] == [hashlib.sha256(first).hexdigest(),
                                                          hashlib.sha256(second).hexdigest()]
    assert not target.exists()


READ_COUNTED = textwrap.dedent("""
    import sys
    from pipeline.cli.commands import cli
    try:
        cli.main(["ingest"], prog_name="annex2")
    except SystemExit:
        pass
    finally:
        rchar = next(l for l in open("/proc/self/io") if l.startswith("rchar:"))
        print(int(rchar.split()[1]), file=open("rchar.txt", "w"))
""")


@LINUX_ONLY
def test_a_sparse_3_gib_file_over_the_limit_is_recorded_once_and_never_read_again(work):
    big = work / "inbox" / EXEC / "盖章扫描件.pdf"
    big.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["truncate", "-s", "3G", str(big)], check=True)  # 3 GiB that cost the unit nothing
    old = big.stat().st_mtime - 60
    os.utime(big, (old, old))
    reads = []
    for _run in range(2):
        subprocess.run([sys.executable, "-c", READ_COUNTED], cwd=work, capture_output=True, timeout=600)
        reads.append(int((work / "rchar.txt").read_text()))
    # Python, its libraries and the ledger are a few tens of MB; one full read of the file would be 3072 MB
    assert reads[0] < 200 * 1024 * 1024 and reads[1] < 200 * 1024 * 1024, reads
    head = hashlib.sha256(b"annex2 over-limit file: 3221225472 bytes, first 65536 bytes follow\n" + bytes(65536))
    assert arrivals(work) == [("盖章扫描件.pdf", head.hexdigest(), 3221225472)]  # recorded once
    (copy,) = (work / "archive").rglob("*盖章扫描件.pdf")
    assert copy.stat().st_size == 65536  # its first bytes, not 3 GiB of the bureau's disk
    assert big.stat().st_size == 3221225472  # nothing lost: the file itself stays where the unit put it
