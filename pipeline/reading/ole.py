"""An .xls (an OLE container) checked before a parser sees it: a header whose counts fit the file, a directory
whose streams fit it, no open password; the formula cells found in its BIFF stream (formulas.py)."""
from __future__ import annotations

import io
import struct

from .book import Checked, ReadProblem, _fail
from .formulas import _xls_formulas


def _checked_ole(data: bytes) -> Checked:
    import msoffcrypto
    import olefile

    _check_ole_header(data)
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
    except Exception:
        raise _fail("文件已损坏（OLE 结构无法读取）") from None
    try:
        if any(e is not None and e.entry_type in (olefile.STGTY_STREAM, olefile.STGTY_ROOT) and e.size > len(data)
               for e in ole.direntries):
            raise _fail(_OLE_SIZE)
        streams = {"/".join(s).lower() for s in ole.listdir()}
        stream = "workbook" if "workbook" in streams else "book"
        biff = ole.openstream(stream).read() if stream in streams else b""
    except ReadProblem:
        raise
    except Exception:
        raise _fail("文件已损坏（OLE 结构无法读取）") from None
    finally:
        ole.close()
    if {"encryptioninfo", "encryptedpackage"} <= streams:
        raise ReadProblem("E_ENCRYPTED", "工作簿设置了打开密码")
    if "workbook" not in streams and "book" not in streams:
        if "worddocument" in streams:
            raise _fail("这是一个 Word 文档，不是表格")
        raise _fail("文件不是 Excel 97-2003 (.xls) 表格")
    try:
        if msoffcrypto.OfficeFile(io.BytesIO(data)).is_encrypted():
            raise ReadProblem("E_ENCRYPTED", "工作簿设置了打开密码")
    except ReadProblem:
        raise
    except Exception:
        pass  # msoffcrypto does not know every BIFF variant; calamine will say whether it can read it
    return data, "xls", _xls_formulas(biff)


_OLE_SIZE = "文件已损坏或不完整（OLE 结构与文件大小不符）"


def _check_ole_header(data: bytes) -> None:
    """The counts in an OLE header (sectors of the allocation tables, where the directory starts) must fit
    the file's size. A copy cut short, or a header that claims thousands of sectors in 12 KB, is refused
    before any parser sizes its buffers by them."""
    if len(data) < 512:
        raise _fail(_OLE_SIZE)
    major, byte_order, shift, mini_shift = struct.unpack_from("<HHHH", data, 0x1A)
    if byte_order != 0xFFFE or (major, shift) not in ((3, 9), (4, 12)) or mini_shift != 6:
        raise _fail("文件已损坏（OLE 文件头无效）")
    sector = 1 << shift
    sectors = -(-(len(data) - sector) // sector)  # the header takes the first sector's room
    n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
    _first_minifat, n_minifat, _first_difat, n_difat = struct.unpack_from("<IIII", data, 0x3C)
    if not 0 < n_fat <= sectors or n_minifat > sectors or n_difat > sectors or first_dir >= sectors:
        raise _fail(_OLE_SIZE)
