"""Reading in batches: read_workbooks gives what read_workbook gives file by file, a batch never
fails a good file for a bad one (in this process or in the sandbox), and the formula scan's quick match
finds exactly what its general steps find."""
import random
import re
import time
import zipfile
from datetime import datetime, timezone
from xml.etree import ElementTree

import pytest
import sandbox_jobs as jobs
from factory import make_submission
from fuzz import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core import config
from pipeline.core.config import Limits
from pipeline.intake.check import check_files
from pipeline.intake.judge import Judge
from pipeline.reading.prefetch import Prefetcher, reader_for
from pipeline.reading.reader import ReadProblem, _formula_cells, read_workbook, read_workbooks
from pipeline.reading.sandbox import SandboxFailure

NOW = datetime(2023, 6, 10, tzinfo=timezone.utc)
CFG = config.defaults()
LIMITS = Limits()


# --- the formula scan ---------------------------------------------------------------------------------

def general_scan(xml: bytes) -> tuple[frozenset, frozenset]:
    """The scan's general steps alone (as they were before the quick match), kept here as the reference."""
    ref = re.compile(rb'\br="([A-Z]{1,3})(\d{1,7})"')
    has_f, cell_close = re.compile(rb"<(?:\w+:)?f\b"), re.compile(rb"</(?:\w+:)?c>|<(?:\w+:)?c\b")
    has_v, has_is = re.compile(rb"<(?:\w+:)?v>\s*[^<\s]"), re.compile(rb"<(?:\w+:)?is>")
    cell_open = re.compile(rb"<(?:\w+:)?c\s")
    formulas, missing, pos = set(), set(), 0
    while (f := has_f.search(xml, pos)) is not None:
        opened = [m.start() for m in cell_open.finditer(xml, pos, f.start())]
        end_match = cell_close.search(xml, f.end())
        end = end_match.start() if end_match else len(xml)
        pos = max(end, f.end())
        if not opened:
            continue
        start = opened[-1]
        found = ref.search(xml, start, f.start())
        if not found:
            continue
        letters = found.group(1).decode()
        col = 0
        for ch in letters:
            col = col * 26 + ord(ch) - 64
        cell = (int(found.group(2)) - 1, col - 1)
        formulas.add(cell)
        if not has_v.search(xml[start:end]) and not has_is.search(xml[start:end]):
            missing.add(cell)
    return frozenset(formulas), frozenset(missing)


def test_the_scan_finds_libreoffices_formula_cells_by_hand():
    xml = zipfile.ZipFile(FIXTURES / "lo_template_recalculated.xlsx").read("xl/worksheets/sheet1.xml")
    formulas, missing = _formula_cells(xml)
    # The template: the two rates (I, J) in the seven sector rows 7 to 13, and all twelve columns (B..M) of
    # 合计 in row 14 (ten sums, two rates); LibreOffice saved each with its result.
    assert formulas == {(13, c) for c in range(1, 13)} | {(r, c) for r in range(6, 13) for c in (8, 9)}
    assert missing == frozenset()


CELL_SHAPES = st.fixed_dictionaries({
    "prefix": st.sampled_from(["", "x:"]),
    "r_first": st.booleans(),
    "extra": st.sampled_from(["", ' s="3"', ' t="str"', ' s="1" t="n"', ' cm="1"', ' a=":c x"', ' a=">"',
                              ' a="&lt;c r=&quot;Z9&quot;"']),
    "gap": st.sampled_from([" ", "\t", "\n "]),
    "formula": st.sampled_from([None, "<f>SUM(B1:B2)</f>", '<f t="shared" si="0"/>', "<f aca=\"false\">A1&gt;2</f>",
                                "<f>IF(A1=0,&quot;—&quot;,1)</f>", "<f></f>"]),
    "value": st.sampled_from([None, "<v>12</v>", "<v> </v>", "<v></v>", "<v>#DIV/0!</v>", "<is><t>x</t></is>"]),
    "space": st.sampled_from(["", " ", "\n  "]),
})


def sheet_xml(cells: list[dict]) -> bytes:
    rows, n = [], 0
    for i, shape in enumerate(cells):
        p = shape["prefix"]
        ref = f'r="{chr(65 + i % 5)}{i // 5 + 1}"'
        attrs = f"{shape['gap']}{ref}{shape['extra']}" if shape["r_first"] else f"{shape['extra']}{shape['gap']}{ref}"
        body = (shape["formula"] or "").replace("<f", f"<{p}f").replace("</f>", f"</{p}f>")
        value = shape["value"] or ""
        value = value.replace("<v>", f"<{p}v>").replace("</v>", f"</{p}v>").replace("<is>", f"<{p}is>") \
            .replace("</is>", f"</{p}is>").replace("<t>", f"<{p}t>").replace("</t>", f"</{p}t>")
        rows.append(f"<{p}c{attrs}>{shape['space']}{body}{shape['space']}{value}</{p}c>")
        n += 1
    p = cells[0]["prefix"] if cells else ""
    ns = f' xmlns:{p[:-1]}="urn:s"' if p else ' xmlns="urn:s"'
    return f'<?xml version="1.0"?><{p}worksheet{ns}><{p}sheetData><{p}row>{"".join(rows)}</{p}row></{p}sheetData>' \
           f"</{p}worksheet>".encode()


def parsed_formula_cells(xml: bytes) -> tuple[frozenset, frozenset]:
    """What an XML parser says: each c with an f child, and those of them with neither a value nor text."""
    formulas, missing = set(), set()
    for el in ElementTree.fromstring(xml).iter():
        if el.tag.rsplit("}", 1)[-1] != "c":
            continue
        children = {child.tag.rsplit("}", 1)[-1]: child for child in el}
        if "f" not in children:
            continue
        letters, digits = re.fullmatch(r"([A-Z]+)(\d+)", el.get("r")).groups()
        cell = (int(digits) - 1, ord(letters) - 65)
        formulas.add(cell)
        if not ("v" in children and (children["v"].text or "").strip()) and "is" not in children:
            missing.add(cell)
    return frozenset(formulas), frozenset(missing)


@settings(max_examples=300, deadline=None)
@given(st.lists(CELL_SHAPES, min_size=1, max_size=25).map(
    lambda cells: [dict(c, prefix=cells[0]["prefix"]) for c in cells]))  # one prefix per sheet, as written
def test_the_scan_agrees_with_an_xml_parser(cells):
    xml = sheet_xml(cells)
    assert _formula_cells(xml) == parsed_formula_cells(xml)


def test_the_quick_match_and_the_general_steps_agree_on_damaged_sheets():
    sheets = [zipfile.ZipFile(FIXTURES / "lo_template_recalculated.xlsx").read("xl/worksheets/sheet1.xml"),
              sheet_xml([{"prefix": "", "r_first": True, "extra": ' s="2"', "formula": "<f>1+1</f>",
                          "value": "<v>2</v>", "space": "", "gap": " "}] * 30)]
    pieces = [b"<", b">", b"/", b'"', b"<c ", b"<f>", b"</c>", b"<v>", b"</v>", b"x:c ", b":f", b" r=\"B2\"", b""]
    rng = random.Random(17)
    for _ in range(3000):
        xml = bytearray(rng.choice(sheets))
        for _edit in range(rng.randint(1, 4)):
            at = rng.randrange(len(xml))
            xml[at:at + rng.randint(0, 6)] = rng.choice(pieces)
        assert _formula_cells(bytes(xml)) == general_scan(bytes(xml)), bytes(xml)


def test_a_cell_tag_with_odd_attribute_values_is_still_its_formulas_cell():
    # A `:c ` or a `>` inside an attribute's value once hid the formula: its cached value then counted as typed.
    xml = b'<sheetData><row><c r="A1" foo=":c x"><f>SUM(B1)</f><v>2</v></c><c a=">" r="B1"><f>1</f></c>' \
          b'<x:c\tr="C1"><x:f>1</x:f><x:v>1</x:v></x:c></row></sheetData>'
    assert _formula_cells(xml) == ({(0, 0), (0, 1), (0, 2)}, {(0, 1)})


def test_a_cell_reference_longer_than_any_sheet_costs_nothing():
    # `r="AAAA…A1"`: 200,000 letters would take minutes to turn into a column number; 5,000 digits would
    # raise from int(). Neither is a cell of any sheet, so neither is a formula cell.
    letters = b'<c r="' + b"A" * 200_000 + b'1"><f>1</f><v>1</v></c>'
    digits = b'<c r="A' + b"9" * 5000 + b'"><f>1</f><v>1</v></c>'
    started = time.monotonic()
    assert _formula_cells(b"<sheetData>" + letters + digits + b'<c r="C3"><f>1</f></c></sheetData>') == \
        ({(2, 2)}, {(2, 2)})
    assert time.monotonic() - started < 5  # generous: about a millisecond


# --- read_workbooks -------------------------------------------------------------------------------------

def test_a_batch_reads_as_one_file_at_a_time_and_a_bad_file_fails_only_itself(tmp_path):
    good = make_submission(tmp_path / "good.xlsx").read_bytes()
    datas = [good, b"", (FIXTURES / "lo_template.xls").read_bytes(), good[:len(good) // 2],
             (FIXTURES / "lo_template.ods").read_bytes(), b"%PDF-1.4 not a workbook", good]
    got = read_workbooks(datas, LIMITS)
    assert [type(g).__name__ for g in got] == ["WorkbookData", "ReadProblem", "WorkbookData", "ReadProblem",
                                               "WorkbookData", "ReadProblem", "WorkbookData"]
    assert [g.kind for g in got if not isinstance(g, Exception)] == ["xlsx", "xls", "ods", "xlsx"]
    assert "0 字节" in got[1].reason and "不完整" in got[3].reason and "PDF" in got[5].reason
    for data, batch_answer in zip(datas, got):
        try:
            alone = read_workbook(data, LIMITS)
        except ReadProblem as problem:
            alone = problem
        if isinstance(alone, ReadProblem):
            assert (batch_answer.code, batch_answer.reason) == (alone.code, alone.reason)
        else:
            assert batch_answer == alone


def test_copies_over_the_held_bytes_are_read_before_more_are_checked(tmp_path, monkeypatch):
    from pipeline.reading import reader
    monkeypatch.setattr(reader, "HELD", 1)  # every checked copy is over: each file is read right after its check
    seen: list[str] = []
    checked, values = reader._checked, reader._values
    monkeypatch.setattr(reader, "_checked", lambda data, limits: seen.append("check") or checked(data, limits))
    monkeypatch.setattr(reader, "_values", lambda *a: seen.append("values") or values(*a))
    data = make_submission(tmp_path / "a.xlsx").read_bytes()
    assert len(reader.read_workbooks([data, data, data], LIMITS)) == 3
    assert seen == ["check", "values"] * 3


def test_validate_of_a_folder_in_batches_judges_each_file_as_alone(tmp_path):
    paths = [make_submission(tmp_path / f"f{i}.xlsx", month_to=5) for i in range(3)]
    (tmp_path / "broken.xlsx").write_bytes(paths[0].read_bytes()[:900])
    (tmp_path / "wrong.xlsx").write_bytes(b"%PDF-1.4")
    paths += [make_submission(tmp_path / "minus.xlsx", cells={("traffic", "penalties"): -1}),
              tmp_path / "broken.xlsx", tmp_path / "wrong.xlsx"]
    one_by_one = check_files(paths, CFG, NOW, read=lambda data, limits: read_workbook(data, limits))
    batched = check_files(paths, CFG, NOW, read=read_workbook)
    assert batched.files == one_by_one.files
    assert [[i["code"] for i in f["issues"] if i["severity"] == "error"] for f in batched.to_dict()["files"]] == \
        [[], [], [], ["E_NEGATIVE"], ["E_UNREADABLE"], ["E_UNREADABLE"]]


def test_the_in_process_batch_reader_keeps_e_mails_in_process_too():
    ahead, _ = reader_for(40, LIMITS, read_workbook)
    try:
        assert isinstance(ahead, Prefetcher) and Judge(CFG, None, NOW, ahead).in_process
    finally:
        ahead.close()
    assert Judge(CFG, None, NOW, read_workbook).in_process
    assert not Judge(CFG, None, NOW, lambda data, limits: None).in_process


def test_a_batch_whose_worker_dies_is_read_again_file_by_file():
    ahead = Prefetcher(Limits(parse_seconds=10), workers=1, many=jobs.lengths_or_abort)
    try:
        datas = [b"one", b"three", b"abort", b"four"]
        for data in datas:
            ahead.submit(data)
        assert ahead(datas[0], LIMITS) == 3 and ahead(datas[1], LIMITS) == 5
        with pytest.raises(SandboxFailure) as failed:
            ahead(datas[2], LIMITS)
        assert failed.value.kind == "crash"
        assert ahead(datas[3], LIMITS) == 4
        assert ahead.pool is not None and ahead.pool.starts == 3  # the batch's worker, the abort's, the rest's
    finally:
        ahead.close()


def test_running_out_of_memory_in_process_fails_only_that_file(tmp_path, monkeypatch):
    # One file whose reading needs more memory than there is: before batches it was that file's E_INTERNAL,
    # and it must stay so -- not the whole validate, not its seven neighbours.
    from pipeline.reading import reader
    paths = [make_submission(tmp_path / f"f{i}.xlsx", filler=f"李{i}") for i in range(9)]  # nine different files
    huge = paths[3].read_bytes()
    checked = reader._checked

    def checked_or_out_of_memory(data, limits):
        if data == huge:
            raise MemoryError
        return checked(data, limits)

    monkeypatch.setattr(reader, "_checked", checked_or_out_of_memory)
    report = check_files(paths, CFG, NOW, read=read_workbook)
    assert [f["ok"] for f in report.to_dict()["files"]] == [True, True, True, False, True, True, True, True, True]
    assert [i["code"] for i in report.to_dict()["files"][3]["issues"]] == ["E_INTERNAL"]


def test_a_large_file_is_read_alone(tmp_path):
    from pipeline.reading import prefetch
    calls: list[int] = []

    def many(datas, limits):
        calls.append(len(datas))
        return [len(d) for d in datas]

    ahead = Prefetcher(LIMITS, isolated=False, many=many)
    big = b"x" * (prefetch.BATCH_BYTES // 4 + 1)
    smalls = [bytes([i]) * 10 for i in range(prefetch.BATCH_FILES + 2)]
    for data in (smalls[0], big, *smalls[1:]):
        ahead.submit(data)
    assert [ahead(d, LIMITS) for d in (big, *smalls)] == [len(big)] + [10] * len(smalls)
    assert calls == [1, prefetch.BATCH_FILES, 2]  # the large one alone as it came; the rest eight at a time


def test_data_that_was_not_submitted_is_read_alone(tmp_path):
    ahead = Prefetcher(LIMITS, isolated=False)
    data = make_submission(tmp_path / "a.xlsx").read_bytes()
    assert ahead(data, LIMITS) == read_workbook(data, LIMITS)
    with pytest.raises(ReadProblem):
        ahead(b"", LIMITS)


def test_a_single_file_is_not_batched():
    assert reader_for(1, LIMITS, read_workbook) == (read_workbook, None)
