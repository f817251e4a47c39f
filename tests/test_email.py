"""Saved e-mails in the inbox: the bureau's server stamp decides timeliness, the sender's address the unit."""
import base64
import json
from email.message import EmailMessage

import pytest
from click.testing import CliRunner
from factory import XLSX_TYPE as XLSX
from factory import make_email, make_submission
from helpers import at, edit_config, ingest, rows, status_with_materials

from pipeline.cli.commands import cli
from pipeline.core import config
from pipeline.core.months import Month
from pipeline.storage.ledger import Ledger

EXEC = "交通运输综合行政执法大队"
QUALITY = "交通质量和安全监督站"


@pytest.fixture
def mailwork(workdir):
    edit_config(workdir, 'aliases = ["执法大队", "综合行政执法大队", "区交通运输综合行政执法大队"]\nemails = []',
                'aliases = ["执法大队", "综合行政执法大队", "区交通运输综合行政执法大队"]\nemails = ["zfdd@yx.gov.cn"]')
    edit_config(workdir, 'aliases = ["质监站", "交通质量安全监督站", "交通质量和安全监督站（质监站）"]\nemails = []',
                'aliases = ["质监站", "交通质量安全监督站", "交通质量和安全监督站（质监站）"]\nemails = ["ZJZ@yx.gov.cn"]')
    return workdir


def workbook(tmp_path, name="wb.xlsx", **kw):
    return make_submission(tmp_path / name, **kw).read_bytes()


def eml(sender="zfdd@yx.gov.cn", **kw):
    return make_email(f"执法大队 <{sender}>", **kw)


def scan_pdf():
    """A one-page PDF with no text layer, as a scanner writes it."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (200, 280), "white").save(out, "PDF")
    return out.getvalue()


def put(work, data, name="邮件.eml"):
    (work / "inbox" / name).write_bytes(data)


def state(work, unit=EXEC, as_of="2023-06-05T10:00"):
    cfg = config.load(work / "config.toml")
    with Ledger(cfg.ledger) as ledger:
        st = status_with_materials(cfg, ledger, Month(2023, 5), at(as_of))
    return next(u for u in st.units if u.name == unit).current


@pytest.mark.parametrize("received,date,rule,expected,days_late", [
    ("Tue, 23 May 2023 23:59:59 +0800", "Tue, 23 May 2023 23:59:00 +0800", "email_received", "on_time", None),
    ("Wed, 24 May 2023 00:00:00 +0800", "Tue, 23 May 2023 23:59:00 +0800", "email_received", "late", 1),
    # the sender's clock says the 22nd; the bureau's server received it on the 24th: the server decides
    ("Tue, 23 May 2023 16:00:01 +0000", "Mon, 22 May 2023 09:00:00 +0800", "email_received", "late", 1),
    (None, "Tue, 23 May 2023 15:59:59 +0000", "email_date", "on_time", None),
    (None, "Wed, 24 May 2023 00:00:00 +0800", "email_date", "late", 1),
])
def test_timeliness_from_the_email_headers(mailwork, tmp_path, received, date, rule, expected, days_late):
    put(mailwork, eml(received=received, date=date, attachments=[("附件2.xlsx", workbook(tmp_path), XLSX)]))
    ingest(mailwork, arrived="2023-06-01T08:00")  # the clerk saved it into the inbox a week later
    s = state(mailwork)
    assert (s.state, s.days_late) == (expected, days_late)
    (got,) = rows(mailwork, "SELECT received_rule FROM arrivals WHERE kind = 'workbook'")
    assert got == (rule,)


def test_an_absurd_or_missing_time_falls_back_to_the_files_arrival(mailwork, tmp_path):
    put(mailwork, eml(date="Thu, 01 Jan 1970 00:00:00 +0000", attachments=[("附件2.xlsx", workbook(tmp_path), XLSX)]))
    ingest(mailwork, arrived="2023-05-22T08:00")
    # no usable header time: the e-mail file's own arrival in the inbox decides
    assert rows(mailwork, "SELECT received_rule FROM arrivals WHERE kind = 'workbook'") == [("inbox_ctime",)]
    assert state(mailwork).state == "on_time"


def test_an_email_as_a_real_client_writes_it(mailwork, tmp_path):
    """Written by hand the way Foxmail does: CRLF, base64, a GB18030 RFC 2047 name and a UTF-8 RFC 2231 name."""
    first = workbook(tmp_path, "a.xlsx")
    second = workbook(tmp_path, "b.xlsx", month_to=4, unit="质监站")
    gb_name = "=?GB18030?B?" + base64.b64encode("附件2_执法大队_5月.xlsx".encode("gb18030")).decode() + "?="
    utf8_name = "UTF-8''" + "".join(f"%{b:02X}" for b in "附件2_质监站_4月.xlsx".encode("utf-8"))

    def b64(data):
        text = base64.b64encode(data).decode()
        return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))

    raw = (
        "Received: from smtp.foxmail.local by mx.yx.gov.cn with ESMTPS; Tue, 23 May 2023 17:20:11 +0800\r\n"
        "Date: Tue, 23 May 2023 17:20:05 +0800\r\n"
        "From: \"=?GB18030?B?" + base64.b64encode("执法大队".encode("gb18030")).decode() + "?=\" <zfdd@yx.gov.cn>\r\n"
        "To: <841099245@qq.com>\r\n"
        "Subject: =?GB18030?B?" + base64.b64encode("报送附件2".encode("gb18030")).decode() + "?=\r\n"
        "Mime-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"----=_NextPart_6470A5F5_0B1C2D00_5E2B1A33\"\r\n"
        "X-Mailer: Foxmail 7.2.25.228[cn]\r\n\r\n"
        "This is a multi-part message in MIME format.\r\n\r\n"
        "------=_NextPart_6470A5F5_0B1C2D00_5E2B1A33\r\n"
        "Content-Type: text/plain; charset=\"GB18030\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode("请查收。".encode("gb18030")).decode() + "\r\n\r\n"
        "------=_NextPart_6470A5F5_0B1C2D00_5E2B1A33\r\n"
        f"Content-Type: application/octet-stream; name=\"{gb_name}\"\r\n"
        f"Content-Disposition: attachment; filename=\"{gb_name}\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + b64(first) + "\r\n\r\n"
        "------=_NextPart_6470A5F5_0B1C2D00_5E2B1A33\r\n"
        "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n"
        f"Content-Disposition: attachment; filename*={utf8_name}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + b64(second) + "\r\n\r\n"
        "------=_NextPart_6470A5F5_0B1C2D00_5E2B1A33--\r\n"
    ).encode("ascii")
    (tmp_path / "x").mkdir()
    put(mailwork, raw, "foxmail.eml")
    result = ingest(mailwork, arrived="2023-05-25T09:00")
    got = sorted((r.name.split("#")[1], r.outcome) for r in result.files if "#" in r.name)
    # the second workbook declares 质监站 but came from the brigade's address: rejected
    assert got == [("附件2_执法大队_5月.xlsx", "accepted"), ("附件2_质监站_4月.xlsx", "rejected")]
    rejected = next(r for r in result.files if r.outcome == "rejected")
    assert [(i.code, i.cell) for i in rejected.issues] == [("E_UNIT_MISMATCH", "B2")]
    assert "发件邮箱 zfdd@yx.gov.cn 属于“交通运输综合行政执法大队”" in rejected.issues[0].message
    assert rows(mailwork, "SELECT received_utc, received_rule FROM arrivals WHERE original_name LIKE '%执法大队_5月%'") == \
        [("2023-05-23T09:20:11.000000Z", "email_received")]


def test_two_workbooks_in_one_email_link_to_it(mailwork, tmp_path):
    april = workbook(tmp_path, "4.xlsx", month_to=4)
    may = workbook(tmp_path, "5.xlsx", month_to=5)
    put(mailwork, eml(received="Mon, 22 May 2023 10:00:00 +0800",
                      attachments=[("4月.xlsx", april, XLSX), ("5月.xlsx", may, XLSX),
                                   ("盖章扫描件.pdf", scan_pdf(), ("application", "pdf"))]))
    ingest(mailwork, arrived="2023-05-22T10:05")
    got = rows(mailwork, "SELECT id, original_name, kind, outcome, parent_id, month_to FROM arrivals ORDER BY id")
    email_id = got[0][0]
    assert [(g[1], g[2], g[3], g[4], g[5]) for g in got] == [
        ("邮件.eml", "email", "email", None, None),
        ("4月.xlsx", "workbook", "accepted", email_id, 4),
        ("5月.xlsx", "workbook", "accepted", email_id, 5),
        ("盖章扫描件.pdf", "material", "material", email_id, 5)]  # a work material, its month from the arrival
    archived = [p.name for p in (mailwork / "archive").rglob("*") if p.is_file()]
    assert len(archived) == 4 and any(n.endswith("盖章扫描件.pdf") for n in archived)
    receipt = next((mailwork / "outbox" / "receipts" / EXEC).glob("回执_*_邮件.txt")).read_text(encoding="utf-8-sig")
    assert "4月.xlsx —— 已受理" in receipt and "盖章扫描件.pdf —— 已收到（月度工作材料）" in receipt


def test_a_forwarded_email_counts_the_outer_message(mailwork, tmp_path):
    inner = EmailMessage()
    inner["From"] = "zfdd@yx.gov.cn"
    inner["Date"] = "Mon, 15 May 2023 09:00:00 +0800"
    inner["Subject"] = "附件2"
    inner.set_content("见附件")
    inner.add_attachment(workbook(tmp_path), maintype=XLSX[0], subtype=XLSX[1], filename="附件2.xlsx")
    outer = EmailMessage()
    outer["Received"] = "from relay by mx.yx.gov.cn; Thu, 25 May 2023 11:00:00 +0800"
    outer["From"] = "zfdd@yx.gov.cn"
    outer["Subject"] = "Fwd: 附件2"
    outer["Date"] = "Thu, 25 May 2023 10:59:00 +0800"
    outer.set_content("转发")
    outer.add_attachment(inner)  # message/rfc822
    put(mailwork, outer.as_bytes())
    ingest(mailwork, arrived="2023-05-26T08:00")
    s = state(mailwork)
    assert (s.state, s.days_late, s.received_at) == ("late", 2, at("2023-05-25T11:00"))


def test_an_email_with_only_a_pdf(mailwork):
    put(mailwork, eml(received="Mon, 22 May 2023 10:00:00 +0800",
                      attachments=[("盖章版.pdf", scan_pdf(), ("application", "pdf"))]))
    result = ingest(mailwork, arrived="2023-05-22T10:05")
    assert [r.outcome for r in result.files] == ["material", "email"]
    assert result.ok
    receipt = next((mailwork / "outbox" / "receipts" / EXEC).glob("回执_*_邮件.txt")).read_text(encoding="utf-8-sig")
    assert "邮件中没有附件2表格" in receipt
    assert state(mailwork).state == "overdue"


def test_the_same_email_twice_and_the_same_attachment_in_two_emails(mailwork, tmp_path):
    data = workbook(tmp_path)
    first = eml(received="Mon, 22 May 2023 10:00:00 +0800", attachments=[("附件2.xlsx", data, XLSX)])
    put(mailwork, first, "a.eml")
    ingest(mailwork, arrived="2023-05-22T10:05")
    put(mailwork, first, "a（再存一次）.eml")
    ingest(mailwork, arrived="2023-05-22T11:00")
    put(mailwork, eml(received="Tue, 23 May 2023 09:00:00 +0800", subject="再发一次",
                      attachments=[("附件2-再发.xlsx", data, XLSX)]), "b.eml")
    ingest(mailwork, arrived="2023-05-23T09:05")
    got = rows(mailwork, "SELECT original_name, kind, outcome FROM arrivals ORDER BY id")
    assert got == [("a.eml", "email", "email"), ("附件2.xlsx", "workbook", "accepted"),
                   ("a（再存一次）.eml", "email", "duplicate"), ("附件2.xlsx", "workbook", "duplicate"),
                   ("b.eml", "email", "email"), ("附件2-再发.xlsx", "workbook", "duplicate")]
    assert rows(mailwork, "SELECT COUNT(*) FROM submission_values") == [(70,)]  # one submission
    assert state(mailwork).received_at == at("2023-05-22T10:00")


def test_validate_reads_the_attachments_of_an_email(mailwork, tmp_path):
    path = tmp_path / "m.eml"
    path.write_bytes(eml(sender="zjz@yx.gov.cn", received="Mon, 22 May 2023 10:00:00 +0800",
                         attachments=[("附件2.xlsx", workbook(tmp_path), XLSX)]))
    result = CliRunner().invoke(cli, ["validate", "--json", str(path)])
    assert result.exit_code == 1
    (report,) = json.loads(result.output)["files"]
    assert report["path"].endswith("m.eml#附件2.xlsx")
    assert [i["code"] for i in report["issues"]] == ["E_UNIT_MISMATCH"]
