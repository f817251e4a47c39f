"""Seeded, deterministic fuzzing of real workbooks and e-mails: byte flips, truncations and damaged parts.

The same seed gives the same files, byte for byte, on every machine, so a failure in CI can be replayed:

    from fuzz import fuzz_files, write_fuzz_files, mutate_eml
    files = fuzz_files(seed=12, n=300)            # [Fuzzed(name, data, how), …] from tests/fixtures
    paths = write_fuzz_files(tmp_path, seed=12, n=300)
    bad_eml = mutate_eml(eml_bytes, random.Random(7))

Sources are the LibreOffice-saved fixtures (.xlsx, .xls, .ods) unless others are given. Mutations:
- flip: a few bytes anywhere set to random values;
- head: bytes flipped in the container's header (OLE header / first zip entry), where sizes and counts live;
- tail: bytes flipped in the last KB (the zip's central directory, the end of an OLE file);
- truncate: the file cut short at a random length;
- part: for zip files, one inflated part (sheet XML, content.xml…) flipped or cut and the zip written again
  with correct checksums, so the damage reaches the XML parsers instead of stopping at a CRC;
- stream: for OLE files, bytes flipped inside the Workbook stream area (past the header), where calamine
  reads BIFF records that say how much to allocate.
"""
from __future__ import annotations

import base64
import io
import random
import zipfile
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SOURCE_NAMES = ("lo_template.xls", "lo_bad_fixed_gt_found.xls", "lo_template.ods", "lo_template_recalculated.xlsx",
                "lo_second_sheet.xlsx", "lo_retyped_offset_no_units.xlsx")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Fuzzed:
    name: str  # fuzz_0007_part_lo_template.ods: number, mutation, source
    data: bytes
    how: str  # what was done, for a failure message


def default_sources() -> dict[str, bytes]:
    return {name: (FIXTURES / name).read_bytes() for name in SOURCE_NAMES}


def _flip(data: bytes, rnd: random.Random, lo: int = 0, hi: int | None = None, count: int | None = None) -> tuple[bytes, str]:
    out = bytearray(data)
    hi = len(out) if hi is None else min(hi, len(out))
    if hi <= lo:
        return bytes(out), "unchanged"
    count = count or rnd.randint(1, 8)
    where = sorted(rnd.randrange(lo, hi) for _ in range(count))
    for pos in where:
        out[pos] = rnd.choice((rnd.randrange(256), out[pos] ^ (1 << rnd.randrange(8)), 0x00, 0xFF, 0x7F, 0x80))
    return bytes(out), "flip@" + ",".join(map(str, where))


def _truncate(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    cut = rnd.randrange(0, max(len(data), 1))
    return data[:cut], f"truncate@{cut}"


def _mutate_part(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """One part of a zip damaged and the zip written again (valid CRCs): the damage reaches the parsers."""
    with zipfile.ZipFile(io.BytesIO(data)) as zin:
        infos = zin.infolist()
        parts = {i.filename: zin.read(i) for i in infos}
    candidates = sorted(n for n in parts if n.endswith((".xml", ".rels")) or n == "mimetype")
    target = rnd.choice(candidates)
    body = parts[target]
    if rnd.random() < 0.3:
        body, how = _truncate(body, rnd)
    else:
        body, how = _flip(body, rnd, count=rnd.randint(1, 16))
        if rnd.random() < 0.3:  # numbers and tags that parsers size things by
            needle = rnd.choice((b'r="', b"number-columns-repeated=\"", b"number-rows-repeated=\"", b"<v>", b'ref="'))
            at = body.find(needle)
            if at >= 0:
                value = rnd.choice((b"99999999999", b"-1", b"0", b"4294967296", b"1e400", b"XFD1048577"))
                body = body[:at + len(needle)] + value + body[at + len(needle):]
                how += f"+{needle.decode()}{value.decode()}"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in infos:
            # each entry keeps its own date: a name alone would be stamped with the clock, and two runs a second
            # apart would make different bytes from one seed
            entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            entry.compress_type = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            zout.writestr(entry, body if info.filename == target else parts[info.filename])
    return out.getvalue(), f"part {target} {how}"


def mutate(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """One random mutation of a workbook's bytes; (new bytes, what was done)."""
    is_zip, is_ole = data.startswith(b"PK\x03\x04"), data.startswith(OLE_MAGIC)
    kinds = ["flip", "head", "tail", "truncate"] + ["part"] * 3 * is_zip + ["stream"] * 3 * is_ole
    kind = rnd.choice(kinds)
    if kind == "flip":
        out, how = _flip(data, rnd)
    elif kind == "head":
        out, how = _flip(data, rnd, 0, 512 if is_ole else 64)
    elif kind == "tail":
        out, how = _flip(data, rnd, max(len(data) - 1024, 0))
    elif kind == "truncate":
        out, how = _truncate(data, rnd)
    elif kind == "part":
        out, how = _mutate_part(data, rnd)
    else:
        out, how = _flip(data, rnd, 512, count=rnd.randint(1, 24))
    return out, f"{kind}: {how}"


def fuzz_files(seed: int, n: int, sources: dict[str, bytes] | None = None) -> list[Fuzzed]:
    """`n` damaged files, the same for the same seed and sources; sources are taken in turn."""
    sources = sources or default_sources()
    names = sorted(sources)
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        source = names[i % len(names)]
        data, how = mutate(sources[source], rnd)
        kind = how.split(":")[0]
        out.append(Fuzzed(f"fuzz_{i:04d}_{kind}_{source}", data, f"{source} {how}"))
    return out


def write_fuzz_files(folder: Path, seed: int, n: int, sources: dict[str, bytes] | None = None) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in fuzz_files(seed, n, sources):
        path = folder / f.name
        path.write_bytes(f.data)
        paths.append(path)
    return paths


# --- e-mails -------------------------------------------------------------------------------------------

def make_eml(sender: str, attachments: list[tuple[str, bytes]], subject: str = "5月附件2",
             received: str | None = "from mail.yx.gov.cn by mx.yx.gov.cn; Mon, 5 Jun 2023 09:30:00 +0800") -> bytes:
    """A plain e-mail as a client saves it: From, Subject, Date, an optional Received stamp, attachments."""
    msg = EmailMessage()
    if received:
        msg["Received"] = received
    msg["From"] = sender
    msg["To"] = "ajk@yx.gov.cn"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 5 Jun 2023 09:29:00 +0800"
    msg.set_content("附件是本月的附件2，请查收。")
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    if msg.is_multipart():
        msg.set_boundary("annex2-fuzz-boundary-0001")  # the default is random: the same seed must give the same bytes
    return msg.as_bytes(policy=policy.SMTP)


def mutate_eml(data: bytes, rnd: random.Random) -> bytes:
    """One random mutation of a saved e-mail: its raw bytes flipped or cut, a header garbled (From, Date,
    Received, boundary, charset), an attachment's name made hostile, or an attachment's workbook mutated
    (decoded, damaged with `mutate`, encoded again) so the damage reaches the workbook reader."""
    kind = rnd.choice(["flip", "truncate", "header", "name", "attachment", "attachment", "base64"])
    if kind == "flip":
        return _flip(data, rnd, count=rnd.randint(1, 16))[0]
    if kind == "truncate":
        return _truncate(data, rnd)[0]
    msg = BytesParser(policy=policy.compat32).parsebytes(data)
    if kind == "header":
        field = rnd.choice(["From", "Date", "Received", "Subject", "Content-Type"])
        garbage = rnd.choice(["", "\udcff\udcfe", "=?gbk?B?1eLKx7K7yse1xA==?=", "<>" * 500, "Thu, 99 Foo 99999 99:99:99",
                              "a@b@c", "multipart/mixed; boundary=", "text/plain; charset=x-unknown-9",
                              "=?utf-8?Q?=E4=B8=AD?= <ajk@yx.gov.cn>\r\nBcc: x@evil", "\x00\x01\x02"])
        if field in msg:
            msg.replace_header(field, garbage)
        else:
            msg[field] = garbage
        return msg.as_bytes()
    parts = [p for p in msg.walk() if p.get_filename()]
    if not parts:
        return _flip(data, rnd)[0]
    part = rnd.choice(parts)
    if kind == "name":
        hostile = rnd.choice(["..\\..\\回执\\x.xlsx", "a\r\nb.xlsx", "\u202eslx.exe", "\U00020000" * 60 + ".xlsx",
                              "CON.xlsx", "", "x" * 300 + ".xlsx", "~$lock.xlsx", "..x.xlsx", "=cmd|' /C calc'!A0.xlsx"])
        part.replace_header("Content-Disposition", "attachment")
        part.set_param("filename", hostile, header="Content-Disposition")
        return msg.as_bytes()
    payload = part.get_payload(decode=True) or b""
    if kind == "attachment":
        payload = mutate(payload, rnd)[0]
        part.set_payload(base64.encodebytes(payload).decode("ascii"))
        return msg.as_bytes()
    text = part.get_payload()  # kind == "base64": the transfer encoding itself damaged
    if isinstance(text, str) and text:
        at = rnd.randrange(len(text))
        text = text[:at] + rnd.choice(["!!!", "=", "====", "\r\n\r\n", "-" * 10]) + text[at:]
        part.set_payload(text)
    return msg.as_bytes()


def fuzz_emls(seed: int, n: int, emls: dict[str, bytes] | None = None) -> list[Fuzzed]:
    """`n` damaged e-mails; by default from e-mails carrying each fixture workbook."""
    if emls is None:
        emls = {f"{name}.eml": make_eml("zfdd@yx.gov.cn", [(name, data)]) for name, data in default_sources().items()}
    names = sorted(emls)
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        source = names[i % len(names)]
        try:
            data = mutate_eml(emls[source], rnd)
        except Exception as exc:  # the stdlib could not even write the mutation back: fall back to a flip
            data = _flip(emls[source], rnd)[0]
            source += f" ({type(exc).__name__})"
        out.append(Fuzzed(f"fuzz_{i:04d}_{names[i % len(names)]}", data, source))
    return out


def damaged_xls(*patches: tuple[int, int]) -> bytes:
    """The LibreOffice .xls fixture with single bytes changed: (offset, new value) pairs."""
    data = bytearray((FIXTURES / "lo_template.xls").read_bytes())
    for offset, value in patches:
        data[offset] = value
    return bytes(data)
