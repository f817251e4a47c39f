"""Monthly work materials (spec 9, 10, 12): real files made here, judged by content; their state across the 16th;
receipts; the clerk's reclassification; `annex2 materials` status and the month's 汇编 PDF."""
import hashlib
import io
import json
import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner
from factory import docx, exe, image_pdf, jpg, make_submission
from helpers import at, events, rows, run_cli, schema_version, settled

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.core.months import Month
from pipeline.materials.classify import judge_material
from pipeline.materials.pack import write_month_materials
from pipeline.materials.receipt import material_receipt_text
from pipeline.materials.report import bulletin_paragraphs, reminder_lines, workbook_rows
from pipeline.materials.state import material_states, record_material, strike_months
from pipeline.storage.ledger import Ledger

ZF = "交通运输综合行政执法大队"  # alias 执法大队
ROAD = "区道路运输服务中心"  # alias 运输中心
LOGI = "现代物流中心"
QUALITY = "交通质量和安全监督站"


# --- real files -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def office_files(tmp_path_factory):
    """A text PDF and a .doc, saved by LibreOffice from a Word report."""
    from office import convert

    folder = tmp_path_factory.mktemp("office")
    src = folder / "report.docx"
    src.write_bytes(docx("交通运输综合行政执法大队", "2023年5月份工作情况", "一、本月开展道路运输执法检查 12 次。"))
    pdf = convert(src, "pdf", folder / "pdf", recalc=False)
    doc = convert(src, "doc", folder / "doc", recalc=False)
    return {"pdf": pdf.read_bytes(), "doc": doc.read_bytes()}


@pytest.fixture
def cfg(workdir):
    return config.load(workdir / "config.toml")


def judge(cfg, name, data, folder_unit=ZF, received="2023-05-10T09:00", month=None):
    return judge_material(name, data, folder_unit, cfg, at(received), month)


def codes(j):
    return [i.code for i in j.issues]


# --- kind, or why refused ---------------------------------------------------------------------------------

def test_each_file_is_judged_by_its_content(cfg):
    cases = {
        "工作情况5月（扫描）.pdf": image_pdf(2),
        "工作情况5月.jpg": jpg(),
        "工作情况5月.docx": docx("2023年5月工作情况", "正文"),
        "空白5月.docx": docx(),
        "统计5月.csv": "单位,数量\n执法大队,3\n".encode("utf-8"),
        "说明5月.txt": "五月工作情况见附件".encode("utf-8"),
        "工作情况5月.pdf": exe(),
        "工作情况5月.et": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,
        "盖章页5月.heic": b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100,
    }
    got = {name: (j.kind if j.ok else None, j.detected_type, codes(j))
           for name, j in ((n, judge(cfg, n, d)) for n, d in cases.items())}
    assert got == {
        "工作情况5月（扫描）.pdf": ("stamped", "pdf", []),
        "工作情况5月.jpg": ("stamped", "jpg", []),
        "工作情况5月.docx": ("electronic", "docx", []),
        "空白5月.docx": (None, "docx", ["E_EMPTY_DOCUMENT"]),
        "统计5月.csv": (None, "text", ["E_FORMAT"]),
        "说明5月.txt": (None, "text", ["E_MATERIAL_TYPE"]),
        "工作情况5月.pdf": (None, "exe", ["E_MATERIAL_TYPE"]),
        "工作情况5月.et": (None, "ole", ["E_FORMAT"]),
        "盖章页5月.heic": (None, "heic", ["E_MATERIAL_TYPE"]),
    }
    assert judge(cfg, "工作情况5月（扫描）.pdf", cases["工作情况5月（扫描）.pdf"]).pages == 2
    assert "另存为 .xlsx" in judge(cfg, "统计5月.csv", cases["统计5月.csv"]).issues[0].message
    assert "Word" in judge(cfg, "说明5月.txt", cases["说明5月.txt"]).issues[0].message


@pytest.mark.office
def test_office_files_text_pdf_and_doc(cfg, office_files):
    text_pdf = judge(cfg, "工作情况.pdf", office_files["pdf"])
    assert (text_pdf.ok, text_pdf.kind, text_pdf.detected_type, text_pdf.pages) == (True, "electronic", "pdf", 1)
    # An exported PDF with an electronic seal says so in its name: stamped.
    sealed = judge(cfg, "工作情况（电子签章）.pdf", office_files["pdf"])
    assert (sealed.ok, sealed.kind) == (True, "stamped")
    doc = judge(cfg, "工作情况.doc", office_files["doc"])
    assert (doc.ok, doc.kind, doc.detected_type) == (True, "electronic", "doc")
    # Both carry the month in their first lines: read from the text.
    assert [(j.year, j.month, j.month_rule) for j in (text_pdf, doc)] == [(2023, 5, "text"), (2023, 5, "text")]
    # A .doc that is really a PDF is a PDF.
    assert judge(cfg, "工作情况.doc", office_files["pdf"]).detected_type == "pdf"


@pytest.mark.office
def test_encrypted_pdf_is_refused_but_an_empty_open_password_is_not(cfg, office_files):
    from pypdf import PdfWriter

    def encrypted(user, owner):
        w = PdfWriter(clone_from=io.BytesIO(office_files["pdf"]))
        w.encrypt(user, owner, algorithm="AES-128")
        out = io.BytesIO()
        w.write(out)
        return out.getvalue()

    locked = judge(cfg, "工作情况5月.pdf", encrypted("1234", "1234"))
    assert (locked.ok, codes(locked), locked.detected_type) == (False, ["E_ENCRYPTED"], "pdf")
    assert "密码" in locked.issues[0].message
    # Only printing restricted: opens in any viewer without a password.
    assert judge(cfg, "工作情况5月.pdf", encrypted("", "owner")).kind == "electronic"


def test_a_blank_scan_is_empty(cfg):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(out, "JPEG")
    assert codes(judge(cfg, "扫描5月.jpg", out.getvalue())) == ["E_EMPTY_DOCUMENT"]


def test_a_spreadsheet_behind_a_material_name_says_so(cfg, tmp_path):

    data = make_submission(tmp_path / "a.xlsx").read_bytes()
    j = judge(cfg, "工作情况5月.pdf", data)
    assert (j.ok, j.is_spreadsheet, codes(j)) == (False, True, ["E_MATERIAL_TYPE"])


# --- unit and month -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("执法大队2023年5月工作情况.docx", (2023, 5)),
    ("执法大队5月工作情况.docx", (2023, 5)),
    ("执法大队05月工作情况.docx", (2023, 5)),
    ("执法大队五月份工作情况.docx", (2023, 5)),
    ("执法大队4-5月工作情况.docx", (2023, 5)),
    ("执法大队4至5月工作情况.docx", (2023, 5)),
    ("执法大队2022年12月工作情况.docx", (2022, 12)),
    ("执法大队4月工作情况（6月2日补报）.docx", (2023, 4)),
])
def test_month_from_the_file_name(cfg, name, expected):
    j = judge(cfg, name, docx("正文"), received="2023-06-05T10:00")
    assert ((j.year, j.month), j.month_rule, codes(j)) == (expected, "name", [])


def test_month_from_the_text_then_assumed_from_the_arrival(cfg):
    from_text = judge(cfg, "工作情况.docx", docx("交通运输综合行政执法大队", "2023年4月份工作情况"), received="2023-05-03T10:00")
    assert (from_text.year, from_text.month, from_text.month_rule, codes(from_text)) == (2023, 4, "text", [])
    assumed = judge(cfg, "工作情况.docx", docx("本月工作情况", "正文"), received="2023-06-20T10:00")
    assert (assumed.ok, assumed.year, assumed.month, assumed.month_rule) == (True, 2023, 6, "assumed")
    assert codes(assumed) == ["W_MATERIAL_MONTH_ASSUMED"]
    assert "2023年6月" in assumed.issues[0].message
    # --month wins over everything.
    hinted = judge(cfg, "执法大队4月工作情况.docx", docx("正文"), month=Month(2023, 5))
    assert (hinted.month, hinted.month_rule) == (5, "option")
    # A "12月" report that arrives in January is last year's.
    december = judge(cfg, "12月工作情况.docx", docx("正文"), received="2024-01-08T10:00")
    assert (december.year, december.month) == (2023, 12)


def test_unit_from_folder_name_or_text(cfg):
    body = docx("区道路运输服务中心", "5月份工作情况", "配合执法大队开展联合检查")
    in_root_named = judge(cfg, "执法大队5月工作情况.docx", docx("正文"), folder_unit=None)
    assert (in_root_named.unit, in_root_named.unit_rule, codes(in_root_named)) == (ZF, "name", [])
    in_root_text = judge(cfg, "5月工作情况.docx", body, folder_unit=None)
    assert (in_root_text.unit, in_root_text.unit_rule) == (ROAD, "text")
    unknown = judge(cfg, "5月工作情况.docx", docx("5月工作情况"), folder_unit=None)
    assert (unknown.ok, unknown.unit, codes(unknown)) == (False, None, ["E_UNIT_UNKNOWN"])
    # The file name names another unit than the folder's owner: refused.
    mismatch = judge(cfg, "物流中心5月工作情况.docx", docx("正文"), folder_unit=ZF)
    assert (mismatch.ok, codes(mismatch)) == (False, ["E_UNIT_MISMATCH"])
    assert LOGI in mismatch.issues[0].message
    # The text names other units all the time: never a mismatch.
    assert judge(cfg, "5月工作情况.docx", body, folder_unit=ZF).ok


# --- the ledger and the state across the 16th --------------------------------------------------------------

def put(cfg, ledger, name, data, received, unit=ZF, month=None):
    """What intake does with a material: archive, record the arrival and the judgement in one transaction (the
    arrival row's fields as intake/commit.py takes them from the judgement)."""
    moment = at(received)
    j = judge_material(name, data, unit, cfg, moment, month)
    archived = cfg.archive / "2023-05" / (hashlib.sha256(data).hexdigest()[:8] + "_" + name)
    archived.parent.mkdir(parents=True, exist_ok=True)
    archived.write_bytes(data)
    with ledger.transaction() as db:
        arrival_id = ledger.record(
            db, now=moment, original_name=name, source="inbox", source_path=f"inbox/{unit}/{name}",
            source_ctime_ns=None, sha256=hashlib.sha256(data).hexdigest(), size=len(data), received_at=moment,
            received_rule="inbox_ctime", folder_unit=unit, archived_path=archived.relative_to(cfg.root).as_posix(),
            issues=j.issues, event="material" if j.ok else "rejected", kind="material",
            outcome="material" if j.ok else "rejected", unit=j.unit, year=j.year, month_from=j.month, month_to=j.month)
        record_material(db, arrival_id, j)
    return arrival_id


def state(cfg, ledger, as_of, unit=ZF, month=None):
    month = month or Month(2023, 5)
    s = next(s for s in material_states(cfg, ledger, month, at(as_of)) if s.unit == unit)
    return s.state, s.received_at.isoformat() if s.received_at else None, s.days_late, s.missing


STAMPED_PDF = "执法大队5月工作情况（盖章）.pdf"
WORD = "执法大队5月工作情况.docx"


def test_electronic_on_the_15th_stamped_on_the_17th_is_late_by_one_day(cfg):
    with Ledger(cfg.ledger) as ledger:
        put(cfg, ledger, WORD, docx("正文"), "2023-05-15T10:00")
        assert state(cfg, ledger, "2023-05-16T12:00") == ("pending", None, None, ["stamped"])
        put(cfg, ledger, STAMPED_PDF, image_pdf(), "2023-05-17T08:30")
        assert state(cfg, ledger, "2023-05-31T23:00") == ("late", "2023-05-17T08:30:00+08:00", 1, [])


def test_only_electronic_by_the_20th_is_overdue_missing_stamped(cfg):
    with Ledger(cfg.ledger) as ledger:
        put(cfg, ledger, WORD, docx("正文"), "2023-05-15T10:00")
        assert state(cfg, ledger, "2023-05-20T18:00") == ("overdue", None, None, ["stamped"])
        s = next(s for s in material_states(cfg, ledger, Month(2023, 5), at("2023-05-20T18:00")) if s.unit == ZF)
        assert (s.days_overdue, s.label) == (4, "逾期（缺盖章版）")
        nothing = next(s for s in material_states(cfg, ledger, Month(2023, 5), at("2023-05-20T18:00")) if s.unit == ROAD)
        assert (nothing.state, nothing.missing, nothing.label) == ("overdue", ["stamped", "electronic"], "逾期未报")


def test_both_at_the_last_second_of_the_16th_are_on_time(cfg):
    with Ledger(cfg.ledger) as ledger:
        put(cfg, ledger, WORD, docx("正文"), "2023-05-16T23:59:59")
        put(cfg, ledger, "执法大队5月.jpg", jpg(), "2023-05-16T23:59:59")
        assert state(cfg, ledger, "2023-05-17T00:00") == ("on_time", "2023-05-16T23:59:59+08:00", None, [])


def test_before_the_deadline_pending_and_later_files_supersede(cfg):
    with Ledger(cfg.ledger) as ledger:
        assert state(cfg, ledger, "2023-05-10T12:00") == ("pending", None, None, ["stamped", "electronic"])
        first = put(cfg, ledger, WORD, docx("正文"), "2023-05-12T09:00")
        put(cfg, ledger, STAMPED_PDF, image_pdf(), "2023-05-13T09:00")
        second = put(cfg, ledger, "执法大队5月工作情况（修改）.docx", docx("改正后的正文"), "2023-05-19T09:00")
        assert state(cfg, ledger, "2023-05-31T12:00") == ("on_time", "2023-05-13T09:00:00+08:00", None, [])
        s = next(s for s in material_states(cfg, ledger, Month(2023, 5), at("2023-05-31T12:00")) if s.unit == ZF)
        assert [(f.id, f.current) for f in s.files if f.kind == "electronic"] == [(first, False), (second, True)]
        # As of before the correction, the first electronic version is the current one.
        s = next(s for s in material_states(cfg, ledger, Month(2023, 5), at("2023-05-14T12:00")) if s.unit == ZF)
        assert [(f.id, f.current) for f in s.files if f.kind == "electronic"] == [(first, True)]


def test_rejected_files_do_not_count_and_opted_out_units_owe_nothing(workdir):
    text = (workdir / "config.toml").read_text(encoding="utf-8")
    text = text.replace(f'name = "{LOGI}"', f'name = "{LOGI}"\nmaterials = false', 1)
    (workdir / "config.toml").write_text(text, encoding="utf-8")
    cfg = config.load(workdir / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        put(cfg, ledger, WORD, docx("正文"), "2023-05-10T09:00")
        put(cfg, ledger, "执法大队5月工作情况.pdf", exe(), "2023-05-11T09:00")
        assert state(cfg, ledger, "2023-05-20T12:00") == ("overdue", None, None, ["stamped"])
        units = [s.unit for s in material_states(cfg, ledger, Month(2023, 5), at("2023-05-20T12:00"))]
        extra = put(cfg, ledger, "物流中心5月工作情况.docx", docx("正文"), "2023-05-10T09:00", unit=LOGI)
        assert f"{LOGI}不需要报送2023年5月的月度工作情况材料" in material_receipt_text(cfg, ledger, extra)
    assert LOGI not in units and ZF in units and len(units) == len(cfg.units) - 1


# --- receipts ----------------------------------------------------------------------------------------------

def test_the_receipt_names_what_is_missing_or_why_refused(cfg):
    with Ledger(cfg.ledger) as ledger:
        word = put(cfg, ledger, WORD, docx("正文"), "2023-05-12T09:00")
        text = material_receipt_text(cfg, ledger, word)
        assert "已收到电子版，尚缺盖章版（扫描件），请于 2023年5月16日 前报送" in text
        assert "材料月份：2023年5月（按文件名）" in text and "结果：已收到" in text
        scan = put(cfg, ledger, "执法大队5月.jpg", jpg(), "2023-05-18T09:00")
        text = material_receipt_text(cfg, ledger, scan)
        assert "盖章版和电子版均已收到，材料齐全（迟报 2 天）" in text
        bad = put(cfg, ledger, "执法大队5月工作情况.pdf", exe(), "2023-05-18T10:00")
        text = material_receipt_text(cfg, ledger, bad)
        assert "结果：退回" in text and "[E_MATERIAL_TYPE]" in text and "扫描成 PDF" in text


# --- the clerk's commands -----------------------------------------------------------------------------------

@pytest.mark.office
def test_set_kind_changes_the_state_and_is_logged(workdir, office_files):
    cfg = config.load(workdir / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        put(cfg, ledger, WORD, docx("正文"), "2023-05-12T09:00")
        sealed = put(cfg, ledger, "执法大队5月工作情况.pdf", office_files["pdf"], "2023-05-13T09:00")
        assert state(cfg, ledger, "2023-05-20T12:00") == ("overdue", None, None, ["stamped"])
    runner = CliRunner()
    result = runner.invoke(cli, ["materials", "set-kind", str(sealed), "盖章版"])
    assert result.exit_code == 0, result.output
    assert "由电子版改为盖章版（扫描件）" in result.output
    with Ledger(cfg.ledger) as ledger:
        assert state(cfg, ledger, "2023-05-20T12:00") == ("on_time", "2023-05-13T09:00:00+08:00", None, [])
        event = [e for e in events(ledger) if e["kind"] == "material_kind_set"]
    assert [(e["arrival_id"], json.loads(e["detail"])["from"], json.loads(e["detail"])["to"]) for e in event] == [
        (sealed, "electronic", "stamped")]
    wrong = runner.invoke(cli, ["materials", "set-kind", "999", "stamped"])  # the English key is an alias
    # Issue 25 item 9: a number that names no file at all is said so, exit 1 (was exit 2 with the sentence for
    # a file that is not a material, which still holds for a recorded file of another kind).
    assert wrong.exit_code == 1 and "台账中没有编号为 999 的文件" in wrong.output
    back = runner.invoke(cli, ["materials", "set-kind", str(sealed), "electronic"])
    assert back.exit_code == 0 and "由盖章版（扫描件）改为电子版" in back.output
    unknown = runner.invoke(cli, ["materials", "set-kind", str(sealed), "扫描件"])
    assert unknown.exit_code == 2 and "错误：'{盖章版|电子版}' 的取值无效：“扫描件” 不是材料类型，请写 盖章版 或 电子版。" in unknown.output


def test_materials_status_json_and_table(workdir):
    cfg = config.load(workdir / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        word = put(cfg, ledger, WORD, docx("正文"), "2023-05-15T10:00")
        scan = put(cfg, ledger, STAMPED_PDF, image_pdf(), "2023-05-17T08:30")
        put(cfg, ledger, "运输中心5月工作情况.docx", docx("正文"), "2023-05-16T11:00", unit=ROAD)
    runner = CliRunner()
    result = runner.invoke(cli, ["materials", "status", "--month", "2023-05", "--as-of", "2023-05-20", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["month"], data["deadline"], data["as_of"]) == ("2023-05", "2023-05-16T23:59:59+08:00",
                                                                "2023-05-20T23:59:59+08:00")
    units = {u["unit"]: u for u in data["units"]}
    assert {k: units[ZF][k] for k in ("state", "received_at", "days_late", "missing")} == {
        "state": "late", "received_at": "2023-05-17T08:30:00+08:00", "days_late": 1, "missing": []}
    assert [(f["id"], f["name"], f["kind"], f["received_at"]) for f in units[ZF]["files"]] == [
        (word, WORD, "electronic", "2023-05-15T10:00:00+08:00"), (scan, STAMPED_PDF, "stamped", "2023-05-17T08:30:00+08:00")]
    assert {k: units[ROAD][k] for k in ("state", "received_at", "days_late", "missing")} == {
        "state": "overdue", "received_at": None, "days_late": None, "missing": ["stamped"]}
    assert units[LOGI]["missing"] == ["stamped", "electronic"]
    table = runner.invoke(cli, ["materials", "status", "--month", "2023-05", "--as-of", "2023-05-20"])
    assert table.exit_code == 0
    line = next(t for t in table.output.splitlines() if t.startswith(ZF))
    assert "迟报 1 天" in line and "2023-05-17 08:30" in line and f"[{scan}] 盖章版" in line
    assert "缺盖章版，逾期 4 天" in next(t for t in table.output.splitlines() if t.startswith(ROAD))
    assert "未报送，逾期 4 天" in next(t for t in table.output.splitlines() if t.startswith(LOGI))
    assert table.output.splitlines()[-1] == f"材料齐全 1/{len(cfg.units)}，按时 0，迟报 1，逾期未齐 {len(cfg.units) - 1}"


# --- what notices and workbooks will use ---------------------------------------------------------------------

def test_reminder_bulletin_strikes_and_sheet_rows(cfg):
    with Ledger(cfg.ledger) as ledger:
        put(cfg, ledger, WORD, docx("正文"), "2023-05-15T10:00")
        put(cfg, ledger, STAMPED_PDF, image_pdf(), "2023-05-17T08:30")
        put(cfg, ledger, "运输中心5月工作情况.docx", docx("正文"), "2023-05-16T11:00", unit=ROAD)
        put(cfg, ledger, "运输中心5月.pdf", exe(), "2023-05-16T11:05", unit=ROAD)
        as_of = at("2023-05-20T12:00")
        reminders = reminder_lines(cfg, ledger, Month(2023, 5), as_of)
        paragraphs = bulletin_paragraphs(cfg, ledger, Month(2023, 5), as_of)
        strikes = strike_months(cfg, ledger, Month(2023, 5), as_of)
        rows = workbook_rows(cfg, ledger, as_of)
        states = {s.unit: s for s in material_states(cfg, ledger, Month(2023, 5), as_of)}
    assert [(a["name"], a["codes"]) for a in states[ROAD].attempts] == [("运输中心5月.pdf", ["E_MATERIAL_TYPE"])]
    assert ZF not in reminders  # late, not overdue: the 通报 names it, no 催报
    assert reminders[ROAD][0] == ("你单位2023年5月月度工作情况材料应于2023年5月16日前报送（盖章版含电子版），"
                                  "目前已收到电子版，尚缺盖章版（扫描件），已逾期 4 天。")
    assert len(reminders) == len(cfg.units) - 1
    assert paragraphs[0].startswith("2023年5月月度工作情况材料（盖章版含电子版）的报送截止时间为2023年5月16日24时。"
                                    f"应报{len(cfg.units)}家，按时报齐0家，迟报1家，逾期未报齐{len(cfg.units) - 1}家。")
    assert paragraphs[2] == f"（二）迟报的单位：{ZF}（5月17日报齐，迟报1天）。"
    assert f"{ROAD}（缺盖章版）" in paragraphs[3]
    # May is a strike for both; January to April were before any file and count as overdue too (start 2023-01).
    assert strikes[ZF][-1] == Month(2023, 5) and strikes[ROAD][-1] == Month(2023, 5)
    assert [(r["单位"], r["类型"], r["状态"], r["问题"]) for r in rows] == [
        (ZF, "电子版", "现行", ""), (ROAD, "电子版", "现行", ""), (ROAD, "", "退回", "E_MATERIAL_TYPE"),
        (ZF, "盖章版", "现行", "")]


# --- the month's folder and 汇编 PDF -------------------------------------------------------------------------

def test_compilation_is_the_cover_and_every_stamped_page(cfg, tmp_path):
    from pypdf import PdfReader

    with Ledger(cfg.ledger) as ledger:
        put(cfg, ledger, WORD, docx("正文"), "2023-05-15T10:00")
        put(cfg, ledger, STAMPED_PDF, image_pdf(3), "2023-05-16T08:30")
        put(cfg, ledger, "运输中心5月工作情况（盖章）.jpg", jpg(), "2023-05-16T11:00", unit=ROAD)
        put(cfg, ledger, "运输中心5月工作情况.docx", docx("正文"), "2023-05-16T11:00", unit=ROAD)
        put(cfg, ledger, "物流中心5月工作情况.docx", docx("正文"), "2023-05-14T11:00", unit=LOGI)
        pack = write_month_materials(cfg, ledger, Month(2023, 5), at("2023-05-20T12:00"), cfg.outbox)
    assert pack.pdf == cfg.outbox / "2023-05" / "材料" / "材料汇编_2023年5月.pdf"
    pages = len(PdfReader(pack.pdf).pages)
    assert (pack.cover_pages, pages, pack.pages) == (1, 1 + 3 + 1, 5)
    assert sorted(p.relative_to(pack.folder).as_posix() for p in pack.copies) == sorted([
        f"{ZF}/电子版_{WORD}", f"{ZF}/盖章版_{STAMPED_PDF}", f"{ROAD}/盖章版_运输中心5月工作情况（盖章）.jpg",
        f"{ROAD}/电子版_运输中心5月工作情况.docx", f"{LOGI}/电子版_物流中心5月工作情况.docx"])
    if shutil.which("pdftotext"):
        cover = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(pack.pdf), "-"],
                               capture_output=True, text=True, check=True).stdout
        assert "2023年5月月度工作情况材料汇编" in cover
        assert "逾期未报齐：局安全监督股（未报送）" in cover.replace("\n", "")
        assert "annex2" not in cover and "岳阳市云溪区交通运输局安全监督股汇编。" in cover.replace("\n", "")
        assert f"{LOGI}（缺盖章版）" in cover.replace("\n", "")
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-r", "50", "-png", str(pack.pdf), str(tmp_path / "cover")],
                       check=True)
        from PIL import Image

        with Image.open(next(tmp_path.glob("cover*.png"))) as png:
            low, high = png.convert("L").getextrema()
        assert high - low > 100  # the cover has ink on it


def test_a_second_pack_drops_superseded_copies(cfg):
    with Ledger(cfg.ledger) as ledger:
        put(cfg, ledger, WORD, docx("正文"), "2023-05-15T10:00")
        first = write_month_materials(cfg, ledger, Month(2023, 5), at("2023-05-20T12:00"), cfg.outbox)
        put(cfg, ledger, "执法大队5月工作情况（修改）.docx", docx("改"), "2023-05-21T10:00")
        second = write_month_materials(cfg, ledger, Month(2023, 5), at("2023-05-22T12:00"), cfg.outbox)
    assert [p.name for p in first.copies] == [f"电子版_{WORD}"]
    assert [p.name for p in second.copies] == ["电子版_执法大队5月工作情况（修改）.docx"]
    assert sorted(p.name for p in (second.folder / ZF).iterdir()) == ["电子版_执法大队5月工作情况（修改）.docx"]
    assert (second.cover_pages, second.pages) == (1, 1)


# --- hostile and odd files: refused with a reason, never an exception -----------------------------------------

def _rezip(data: bytes, change) -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = change(info.filename, src.read(info))
            if body is not None:
                dst.writestr(info.filename, body)
        extra = change(None, None)
        if extra:
            dst.writestr(*extra)
    return out.getvalue()


def _png_header(width, height) -> bytes:
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


def test_hostile_files_are_refused_with_a_reason(cfg):
    from dataclasses import replace

    good = docx("2023年5月工作情况")
    bomb = _rezip(good, lambda n, d: d if n else ("word/media/image1.png", b"\0" * (3 * 1024 * 1024)))
    entity = _rezip(good, lambda n, d: None if n is None else (
        d.replace(b"?>", b'?><!DOCTYPE w [<!ENTITY a "aaaaaaaa">]>', 1) if n == "word/document.xml" else d))
    no_document = _rezip(good, lambda n, d: None if n in (None, "word/document.xml") else d)
    scan = image_pdf(2)
    photo = jpg()
    cases = {
        "bomb.docx": bomb, "entity.docx": entity, "no_document.docx": no_document,
        "huge.png": _png_header(100_000, 100_000), "half.pdf": scan[:len(scan) // 2], "half.jpg": photo[:len(photo) // 2],
        "zero.pdf": b"", "noise.pdf": b"%PDF-1.4\n" + bytes(range(256)) * 20,
    }
    got = {name: codes(judge(cfg, f"执法大队5月{name}", data)) for name, data in cases.items()}
    assert got == {name: ["E_UNREADABLE"] for name in cases}
    assert "压缩炸弹" in judge(cfg, "5月.docx", bomb).issues[0].message
    assert "DOCTYPE" in judge(cfg, "5月.docx", entity).issues[0].message
    small = replace(cfg, limits=replace(cfg.limits, max_file_mb=0.001))
    too_big = judge_material("执法大队5月.jpg", photo, ZF, small, at("2023-05-10T09:00"), None)
    assert codes(too_big) == ["E_UNREADABLE"] and "超过上限" in too_big.issues[0].message


def test_ofd_and_rtf(cfg):
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("OFD.xml", '<?xml version="1.0"?><ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016"/>')
        z.writestr("Doc_0/Pages/Page_0/Content.xml", "<ofd:Page/>")
    ofd = judge(cfg, "执法大队5月工作情况.ofd", out.getvalue())
    assert (ofd.ok, ofd.kind, ofd.detected_type, ofd.pages) == (True, "stamped", "ofd", 1)
    # RTF as Word and WPS write it: GBK bytes escaped, and \u with a fallback character.
    rtf = (b"{\\rtf1\\ansi\\ansicpg936{\\fonttbl{\\f0 SimSun;}}\\f0 "
           + "".join(f"\\'{b:02x}" for b in "执法大队".encode("gbk")).encode() + b"\\par "
           + b"\\u20116?\\u26376?\\u20221?\\u24037?\\u20316?\\par}")
    j = judge(cfg, "工作情况.rtf", rtf, folder_unit=None)
    assert (j.ok, j.kind, j.unit, j.unit_rule, j.month, j.month_rule) == (True, "electronic", ZF, "text", 5, "text")


def test_the_judgement_pickles_for_the_sandbox(cfg):
    import pickle

    j = judge(cfg, "执法大队5月工作情况.docx", docx("正文"))
    assert pickle.loads(pickle.dumps(j)) == j
    assert pickle.loads(pickle.dumps(cfg)).materials == cfg.materials


def test_the_materials_reminder_and_bulletin_section_as_docx(cfg):
    import docx as python_docx
    from helpers import status_with_materials

    from pipeline.materials.obligation import MaterialsObligation
    from pipeline.materials.report import material_reminders
    from pipeline.monthly.notices import bulletin, reporting_section

    as_of = at("2023-05-19T09:00")
    with Ledger(cfg.ledger) as ledger:
        put(cfg, ledger, "运输中心5月工作情况.docx", docx("正文"), "2023-05-16T11:00", unit=ROAD)
        put(cfg, ledger, "运输中心5月.pdf", exe(), "2023-05-16T11:05", unit=ROAD)
        put(cfg, ledger, WORD, docx("正文"), "2023-05-10T11:00")
        put(cfg, ledger, STAMPED_PDF, image_pdf(), "2023-05-17T11:00")
        reminders = dict(material_reminders(cfg, ledger, Month(2023, 5), as_of))
        section = reporting_section([MaterialsObligation(cfg, ledger, Month(2023, 5), as_of)])
        annex2 = status_with_materials(cfg, ledger, Month(2023, 5), as_of)

    def text(document):
        return "\n".join(p.text for p in python_docx.Document(io.BytesIO(document.docx(cfg.bureau.name, as_of))).paragraphs)

    doc = reminders[ROAD]
    assert (doc.kind, doc.title_text, doc.addressee) == ("materials_reminder", "关于催报2023年5月月度工作情况材料的通知", ROAD)
    assert ZF not in reminders  # late, complete: no reminder
    reminder = text(doc)
    assert "目前已收到电子版，尚缺盖章版（扫描件），已逾期 3 天。" in reminder
    assert "“运输中心5月.pdf”未能受理" in reminder
    assert "至今尚未报送" in text(reminders[LOGI])
    assert section.title == "月度工作情况材料报送情况" and section.criticise
    read_back = text(bulletin(cfg, annex2, [section]))
    assert "二、月度工作情况材料报送情况" in read_back
    assert f"（二）迟报的单位：{ZF}（5月17日报齐，迟报1天）。" in read_back
    assert f"{ROAD}（缺盖章版）" in read_back and "予以通报批评" in read_back


def test_materials_config_is_checked(workdir):
    from pipeline.materials.state import materials_deadline

    path = workdir / "config.toml"
    text = path.read_text(encoding="utf-8")

    def materials_section(**values):
        head, tail = text.split("[materials]", 1)
        for key, value in values.items():
            tail = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", tail, count=1)
        return head + "[materials]" + tail

    edited = materials_section(day=40).replace(f'name = "{LOGI}"', f'name = "{LOGI}"\nmaterials = "否"', 1)
    path.write_text(edited, encoding="utf-8")
    with pytest.raises(config.ConfigError) as caught:
        config.load(path)
    assert [p.split(": ", 1)[1] for p in caught.value.problems] == [
        "[units] materials 应为true/false，实际是 '否'", "[materials] day 应在 1–31 之间，实际是 40"]
    path.write_text(materials_section(month_offset=1, grace_days=2), encoding="utf-8")
    cfg = config.load(path)
    due = materials_deadline(cfg, Month(2023, 5))
    assert (str(due.last_day), due.boundary.isoformat()) == ("2023-06-18", "2023-06-19T00:00:00+08:00")
    # With a month's offset, a file arriving in June without a month is May's.
    j = judge_material("执法大队工作情况.docx", docx("正文"), ZF, cfg, at("2023-06-10T09:00"), None)
    assert (j.year, j.month, j.month_rule) == (2023, 5, "assumed")


def _scan_with_text(mode) -> bytes:
    """A page that is a picture with text over it: invisible (a scanner's OCR layer) or visible."""
    from fpdf import FPDF

    pdf = FPDF(unit="mm", format="A4")
    pdf.add_page()
    pdf.image(io.BytesIO(jpg()), x=0, y=0, w=210)
    pdf.set_font("helvetica", size=12)
    pdf.text_mode = mode
    pdf.text(20, 40, "Monthly work report, May 2023")
    return bytes(pdf.output())


def test_a_scan_with_an_invisible_ocr_layer_is_stamped(cfg):
    from fpdf.enums import TextMode

    ocr = judge(cfg, "执法大队5月工作情况.pdf", _scan_with_text(TextMode.INVISIBLE))
    visible = judge(cfg, "执法大队5月工作情况.pdf", _scan_with_text(TextMode.FILL))
    assert [(j.ok, j.kind) for j in (ocr, visible)] == [(True, "stamped"), (True, "electronic")]


def test_an_existing_ledger_gains_the_materials_table(tmp_path, monkeypatch):
    from pipeline.storage import migrations as ledger_mod
    path = tmp_path / "annex2.sqlite"
    monkeypatch.setattr(ledger_mod, "MIGRATIONS", [m for m in ledger_mod.MIGRATIONS if m[0] == 1])
    with Ledger(path) as old:
        assert schema_version(old) == 1
    monkeypatch.undo()
    with Ledger(path) as new:
        assert schema_version(new) == max(v for v, _sql in ledger_mod.MIGRATIONS)
        columns = [r[1] for r in new.db.execute("PRAGMA table_info(material_files)")]
    assert columns == ["arrival_id", "kind", "clerk_kind", "detected_type", "pages", "month_rule", "unit_rule"]


DEFAULT_UNITS = ["局安全监督股", "局基本建设股", "局计划统计股", "行政审批股", "交通质量和安全监督站", "区道路运输服务中心",
          "交通运输综合行政执法大队", "现代物流中心", "区公路建设养护中心"]

# A materials story (unit, month, kind, received at) for the default units: in April every unit sends both
# versions on time (reporting starts in April here, so April counts for strikes); in May one unit is on time,
# one is late, one never sends its stamped version, and the units not listed send nothing.
MATERIALS_SCENARIO = [
    *[(unit, Month(2023, 4), kind, f"2023-04-{6 + i:02d}T{9 + j:02d}:30") for i, unit in enumerate(DEFAULT_UNITS)
      for j, kind in enumerate(("electronic", "stamped"))],
    ("局安全监督股", Month(2023, 5), "electronic", "2023-05-12T10:00"),
    ("局安全监督股", Month(2023, 5), "stamped", "2023-05-15T16:30"),
    ("局计划统计股", Month(2023, 5), "electronic", "2023-05-16T09:00"),
    ("局计划统计股", Month(2023, 5), "stamped", "2023-05-16T17:45"),
    ("区道路运输服务中心", Month(2023, 5), "electronic", "2023-05-14T11:20"),  # no stamped version: overdue
    ("交通运输综合行政执法大队", Month(2023, 5), "electronic", "2023-05-15T09:40"),
    ("交通运输综合行政执法大队", Month(2023, 5), "stamped", "2023-05-18T08:50"),  # late by 2 days
]


def test_the_demo_samples_and_scenario_tell_the_story(workdir, tmp_path):
    from pipeline.demo.material_samples import sample_name, write_sample_material

    path = workdir / "config.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('start = "2023-01"', 'start = "2023-04"'), encoding="utf-8")
    cfg = config.load(path)
    may = Month(2023, 5)
    with Ledger(cfg.ledger) as ledger:
        for unit, month, kind, received in MATERIALS_SCENARIO:
            path = write_sample_material(tmp_path / unit, unit, month, kind)
            assert path.name == sample_name(unit, month, kind)
            j = judge_material(path.name, path.read_bytes(), unit, cfg, at(received), None)
            assert (j.ok, j.kind, j.month, j.month_rule, j.issues) == (True, kind, month.month, "name", [])
            put(cfg, ledger, path.name, path.read_bytes(), received, unit=unit)
        as_of = at("2023-05-31T23:59")
        states = {s.unit: s for s in material_states(cfg, ledger, may, as_of)}
        april = {s.state for s in material_states(cfg, ledger, Month(2023, 4), as_of)}
        strikes = strike_months(cfg, ledger, may, as_of)
    assert april == {"on_time"}
    assert {u: (states[u].state, states[u].days_late, states[u].missing) for u in
            ("局安全监督股", "局计划统计股", ROAD, ZF, LOGI)} == {
        "局安全监督股": ("on_time", None, []), "局计划统计股": ("on_time", None, []),
        ROAD: ("overdue", None, ["stamped"]), ZF: ("late", 2, []), LOGI: ("overdue", None, ["stamped", "electronic"])}
    assert (strikes["局安全监督股"], strikes[ZF], strikes[ROAD]) == ([], [may], [may])


def test_a_judgement_as_json_has_the_validate_keys(cfg):
    j = judge(cfg, "工作情况.docx", docx("本月工作"), received="2023-06-20T10:00")
    assert json.loads(json.dumps(j.to_dict(), ensure_ascii=False)) == {
        "ok": True, "unit": ZF, "year": 2023, "month_from": 6, "month_to": 6,
        "issues": [{"code": "W_MATERIAL_MONTH_ASSUMED", "severity": "warning", "sheet": None, "cell": None,
                    "sector": None, "metric": None, "message": j.issues[0].message}],
        "material": {"kind": "electronic", "type": "docx", "pages": None, "month_rule": "assumed",
                     "unit_rule": "folder"}}


def test_materials_pack_command(workdir):
    cfg = config.load(workdir / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        put(cfg, ledger, STAMPED_PDF, image_pdf(2), "2023-05-15T10:00")
    result = CliRunner().invoke(cli, ["materials", "pack", "--month", "2023-05", "--as-of", "2023-05-20"])
    assert result.exit_code == 0, result.output
    pdf = cfg.outbox / "2023-05" / "材料" / "材料汇编_2023年5月.pdf"
    assert result.stdout.strip() == str(pdf)
    assert "共 3 页（封面 1 页），复制文件 1 个" in result.stderr


def test_judged_in_the_sandbox_as_intake_will(cfg):
    from pipeline.reading.sandbox import run_untrusted

    data = image_pdf(2)
    j = run_untrusted(judge_material, "执法大队5月工作情况.pdf", data, ZF, cfg, at("2023-05-10T09:00"), None,
                      limits=cfg.limits)
    assert (j.ok, j.kind, j.unit, j.month, j.pages) == (True, "stamped", ZF, 5, 2)


def test_the_master_workbooks_materials_sheet(cfg, tmp_path):
    import openpyxl
    import xlsxwriter

    from pipeline.materials.sheet import write_materials_sheet

    with Ledger(cfg.ledger) as ledger:
        put(cfg, ledger, WORD, docx("正文"), "2023-05-15T10:00")
        put(cfg, ledger, "执法大队5月工作情况（修改）.docx", docx("改"), "2023-05-16T10:00")
        put(cfg, ledger, "运输中心5月.pdf", exe(), "2023-05-16T11:05", unit=ROAD)
        rows = workbook_rows(cfg, ledger, at("2023-05-20T12:00"))
    path = tmp_path / "master.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    write_materials_sheet(wb, rows, at("2023-05-20T12:00"))
    wb.close()
    ws = openpyxl.load_workbook(path)["材料"]
    assert ws["A1"].value == "月度工作情况材料收文记录（统计至 2023-05-20 12:00）"
    assert [c.value for c in ws[2]][:5] == ["编号", "单位", "材料月份", "文件名", "类型"]
    got = [(ws.cell(r, 2).value, ws.cell(r, 4).value, ws.cell(r, 5).value, ws.cell(r, 11).value, ws.cell(r, 12).value)
           for r in range(3, 6)]
    assert got == [(ZF, WORD, "电子版", "已被替换", None), (ZF, "执法大队5月工作情况（修改）.docx", "电子版", "现行", None),
                   (ROAD, "运输中心5月.pdf", None, "退回", "E_MATERIAL_TYPE")]
    assert ws.cell(5, 4).font.color.rgb == "FFC00000"


def tiff(path, pages):
    """A TIFF as a scanner writes it: 'L' mode, LZW, one A4 page at 150 dpi per frame; "blank" pages are white,
    "stamped" ones carry a line and a circle (the seal)."""
    from PIL import Image, ImageDraw

    frames = []
    for kind in pages:
        im = Image.new("L", (1240, 1754), 255)
        if kind == "stamped":
            draw = ImageDraw.Draw(im)
            draw.line((100, 200, 1100, 200), fill=0, width=4)
            draw.ellipse((800, 1300, 1100, 1600), outline=0, width=8)
        frames.append(im)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw")


def test_a_scan_whose_first_page_is_blank_is_not_empty_but_an_all_blank_one_is(workdir):
    tiff(workdir / "inbox" / ZF / "执法大队2026年11月份工作情况（盖章）.tif", ["blank", "stamped"])
    tiff(workdir / "inbox" / QUALITY / "质监站2026年11月份工作情况（盖章）.tif", ["blank", "blank", "blank"])
    settled(workdir)
    run_cli(workdir, "ingest")
    found = rows(workdir, "SELECT a.unit, a.outcome, group_concat(i.code) FROM arrivals a "
                          "LEFT JOIN issues i ON i.arrival_id = a.id AND i.code LIKE 'E_%' GROUP BY a.id ORDER BY a.unit")
    assert found == [(QUALITY, "rejected", "E_EMPTY_DOCUMENT"), (ZF, "material", None)]
