"""The monthly loop asks every obligation the same questions (spec 12): a merge reads each obligation's month
states once, and the materials' 催报 gets an e-mail draft like the Annex 2's and the key tasks'."""
import csv
import io
from email import message_from_bytes, policy

import pytest
from factory import docx
from helpers import at, edit_config, ingest

from pipeline.core import config
from pipeline.core.months import Month
from pipeline.storage.ledger import Ledger

ZF = "交通运输综合行政执法大队"
ZF_ALIASES = 'aliases = ["执法大队", "综合行政执法大队", "区交通运输综合行政执法大队"]\nemails = []'
DRAFT = f"催报通知_工作材料_{ZF}.eml"


@pytest.fixture
def may(workdir):
    """May 2023 as of the 20th: the materials were due on the 16th; 执法大队 (with an address) sent only its
    electronic version on the 10th, nobody else sent any."""
    edit_config(workdir, ZF_ALIASES, ZF_ALIASES.replace("emails = []", 'emails = ["zfdd@yx.gov.cn"]'))
    folder = workdir / "inbox" / ZF
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "执法大队2023年5月工作情况.docx").write_bytes(docx("执法大队", "2023年5月工作情况", "正文"))
    ingest(workdir, now="2023-05-10T09:00", arrived="2023-05-10T09:00")
    return config.load(workdir / "config.toml")


def counting(monkeypatch, module, name: str) -> list:
    """Wrap `module.name` wherever a pipeline module holds it (imported by name or called through its module),
    and return the list each call appends to."""
    import sys

    original = getattr(module, name)
    calls: list = []

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    for mod in [m for key, m in list(sys.modules.items()) if key.startswith("pipeline") and m is not None]:
        if getattr(mod, name, None) is original:
            monkeypatch.setattr(mod, name, counted)
    return calls


def test_a_merge_reads_each_obligations_month_states_once(may, monkeypatch):
    import pipeline.materials.state as materials_state
    import pipeline.tasks.state as tasks_state
    from pipeline.monthly import merge  # (everything the merge imports is loaded before counting)

    month_states = counting(monkeypatch, materials_state, "material_states")
    year_states = counting(monkeypatch, materials_state, "strike_months")
    task_data = counting(monkeypatch, tasks_state, "load_task_data")
    task_boards = counting(monkeypatch, tasks_state, "task_board")
    with Ledger(may.ledger) as ledger:
        result = merge.merge(may, ledger, Month(2023, 5), at("2023-05-20T12:00"), at("2023-05-20T12:00"))
    assert (len(month_states), len(year_states), len(task_data)) == (1, 1, 1)
    assert [str(args[3]) for args in task_boards] == ["2023-05", "2023-01", "2023-02", "2023-03", "2023-04"]  # once each
    assert result.materials is not None and result.materials.folder.name == "材料"


def test_an_overdue_units_materials_reminder_has_an_email_draft(may):
    from pipeline.monthly.merge import merge

    with Ledger(may.ledger) as ledger:
        result = merge(may, ledger, Month(2023, 5), at("2023-05-20T12:00"), at("2023-05-20T12:00"))
    drafts = [n for n in result.notices if n.kind == "materials_reminder_email"]
    assert [(n.file, n.unit, n.recipients) for n in drafts] == [(DRAFT, ZF, ["zfdd@yx.gov.cn"])]  # the others: no address
    msg = message_from_bytes((result.notices_dir / DRAFT).read_bytes(), policy=policy.default)
    assert (msg["To"], msg["Subject"]) == ("zfdd@yx.gov.cn", "关于催报2023年5月月度工作情况材料的通知")
    body = msg.get_body(("plain",)).get_content()
    assert f"{ZF}：" in body
    assert "目前已收到电子版，尚缺盖章版（扫描件），已逾期 4 天。" in body
    assert [a.get_filename() for a in msg.iter_attachments()] == [f"催报通知_工作材料_{ZF}.docx"]
    index = list(csv.reader(io.StringIO((result.notices_dir / "index.csv").read_text(encoding="utf-8-sig"))))
    assert [row[0] for row in index if row[2] == DRAFT] == ["催报通知（月度工作材料，邮件草稿）"]
