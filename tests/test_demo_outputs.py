"""`annex2 demo` still produces the same documents: every file's text, cells, formulas and merged ranges, the
receipts, the archive, the console output and `status --json` equal the golden snapshot taken before the
restructure of issue 24 (tests/fixtures/demo_outputs.json; see tests/demo_outputs.py for what is compared and
how to regenerate it when a change is intended)."""
import difflib
import json
import shutil

import pytest
from demo_outputs import FIXTURE, dump, take

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext"), reason="reads the PDFs with poppler's pdftotext")

SHOWN_FILES = 3  # differing files shown in full diff on failure
SHOWN_LINES = 40  # diff lines shown per file


@pytest.fixture(scope="module")
def demo_snapshot(tmp_path_factory):
    """One demo run per test session (about 10 s), snapshotted as the fixture file is."""
    return json.loads(dump(take(tmp_path_factory.mktemp("demo-outputs"))))


def leaves(value, path=""):
    """Each leaf of a file's extract by where it sits: `content/汇总/cells/A16` -> its value."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in leaves(item, f"{path}/{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in leaves(item, f"{path}[{i}]").items()}
    return {path or "/": value}


def file_diff(expected, got) -> list[str]:
    """The leaves that differ, each as `where: fixture -> now`; a long text as a unified diff of its lines."""
    old, new = leaves(expected), leaves(got)
    lines = []
    for where in sorted(old.keys() | new.keys()):
        a, b = old.get(where, "<absent>"), new.get(where, "<absent>")
        if a == b:
            continue
        if isinstance(a, str) and isinstance(b, str) and "\n" in a + b:
            lines.append(f"  {where}:")
            lines += ["    " + d for d in difflib.unified_diff(a.splitlines(), b.splitlines(), "fixture", "now",
                                                               n=1, lineterm="")]
        else:
            lines.append(f"  {where}: {a!r} -> {b!r}")
    return lines


def differences(expected: dict, got: dict) -> str:
    """A short, readable account of how two snapshots differ: the files missing or new, then what differs in
    the first few differing files (not the whole 500 kB dump)."""
    lines = []
    missing, new = sorted(expected.keys() - got.keys()), sorted(got.keys() - expected.keys())
    lines += [f"missing: {k}" for k in missing] + [f"new: {k}" for k in new]
    changed = [k for k in sorted(expected.keys() & got.keys()) if expected[k] != got[k]]
    lines.append(f"{len(changed)} file(s) differ: {', '.join(changed[:10])}{' …' if len(changed) > 10 else ''}")
    for key in changed[:SHOWN_FILES]:
        diff = file_diff(expected[key], got[key])
        lines.append(f"== {key}")
        lines += diff[:SHOWN_LINES] + ([f"  … {len(diff) - SHOWN_LINES} more lines"] if len(diff) > SHOWN_LINES else [])
    return "\n".join(lines)


def test_the_demo_produces_the_same_documents_as_the_golden_snapshot(demo_snapshot):
    expected = json.loads(FIXTURE.read_text(encoding="utf-8"))
    if demo_snapshot != expected:
        pytest.fail("the demo's outputs differ from tests/fixtures/demo_outputs.json:\n"
                    + differences(expected, demo_snapshot), pytrace=False)


def test_the_snapshot_covers_every_kind_of_output(demo_snapshot):
    """The snapshot is not vacuous: the leadership workbook's first figures, the 通报's text, a marked-up receipt
    and the 材料汇编's cover are in it (literals read off the files by hand)."""
    book = demo_snapshot["outbox/2023-05/安全生产督查情况汇总_2023年5月.xlsx"]["content"]["汇总"]["cells"]
    assert book["A16"] == "已报 8/9 家；含沿用：现代物流中心（沿用4月累计数）"
    notice = demo_snapshot["outbox/2023-05/notices/通报_2023年5月报送情况.docx"]
    assert any("现代物流中心" in p for p in notice["paragraphs"])
    assert "inbox/交通质量和安全监督站/回执/回执_20230521-110000_63_附件2_交通质量和安全监督站_2023年5月（初稿）_错误标注.xlsx" \
        in demo_snapshot
    assert "现代物流中心" in demo_snapshot["outbox/2023-05/材料/材料汇编_2023年5月.pdf"]
    assert len([k for k in demo_snapshot if k.startswith("archive/")]) == 68
