"""A TOML syntax error in config.toml, explained in Chinese: where (line, column, the line itself with a
caret), what tomllib found, and a hint for what clerks usually type by mistake in Notepad with a Chinese
input method on: Chinese quotes “”, a missing quote, a full-width ＝ or ：, a full-width comma in a list."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

_WHERE = re.compile(r"^(?P<msg>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$", re.S)

# tomllib's message (a regex on its start) -> Chinese
_MESSAGES: list[tuple[str, str]] = [
    (r"Invalid value", "这里的值无法识别（文本要用英文双引号 \"…\" 括起来，数字和 true/false 不加引号）"),
    (r"Unterminated string", "引号没有结束（缺少一个英文双引号 \"）"),
    (r"Illegal character '\\n'", "这一行的文本没有结束引号（缺少一个英文双引号 \"）"),
    (r"Illegal character", "文本中有不允许的字符"),
    (r"Expected '=' after a key", "键的后面应是英文等号 =（例如 day = 23）"),
    (r"Expected newline or end of document", "一行只能写一个 键 = 值；值的后面只能跟 # 开头的注释"),
    (r"Expected '\]' at the end of a table declaration", "节名缺少右方括号 ]（应写成 [bureau] 这样）"),
    (r"Expected '\]\]' at the end of an array declaration", "缺少 ]]（单位应写成 [[units]]）"),
    (r"Unclosed array", "列表没有正确结束：各项之间用英文逗号 , 分隔，最后用 ] 结束"),
    (r"Unclosed inline table", "花括号 { } 没有正确结束"),
    (r"Cannot declare .* twice", "同一个节写了两次"),
    (r"Cannot overwrite a value", "同一个键写了两次"),
    (r"Cannot mutate immutable namespace|Cannot redefine namespace", "与前面的节或键重名"),
    (r"Duplicate inline table key", "花括号中同一个键写了两次"),
    (r"Invalid statement", "这一行不是 键 = 值、[节名] 或 # 注释"),
    (r"Invalid initial character for a key part", "键名只能用英文字母、数字、下划线和减号"),
    (r"Unescaped '\\\\' in a string", "文本中的反斜杠 \\ 要写成两个 \\\\，或把路径中的 \\ 改成 /"),
    (r"Invalid hex value|Escaped character", "文本中的反斜杠转义有误：路径请用 / 或把 \\ 写成 \\\\"),
    (r"Invalid date or datetime", "日期写法有误"),
    (r"Found invalid character|Expected", "这里的字符不符合格式"),
]


def _hints(line: str) -> list[str]:
    """What the line itself suggests went wrong."""
    hints = []
    if re.search(r"[“”‘’「」『』]", line):
        hints.append("这一行用了中文引号“”或‘’：请改成英文双引号 \"（切换到英文输入法再输入）")
    if "＝" in line:
        hints.append("这一行用了全角等号＝：请改成英文等号 =")
    if re.match(r"^\s*[A-Za-z_][\w-]*\s*[：:]", line):
        hints.append("键和值之间应是等号 =，不是冒号")
    if re.search(r"[，、]", line.split("#", 1)[0]) and "[" in line and '"' in line:
        hints.append("列表各项之间要用英文逗号 ,（不是中文逗号，或顿号、）")
    if re.search(r"[［］【】]", line):
        hints.append("方括号要用英文的 [ ]，不是［］或【】")
    code = _without_comment(line)
    if code.count('"') % 2 == 1:
        hints.append("这一行的英文双引号 \" 不成对：文本两边各要一个")
    return hints


def _without_comment(line: str) -> str:
    """The line up to a # that is outside quotes."""
    inside = False
    for n, ch in enumerate(line):
        if ch == '"':
            inside = not inside
        elif ch == "#" and not inside:
            return line[:n]
    return line


def explain(exc: tomllib.TOMLDecodeError, text: str, path: Path) -> list[str]:
    """One or more lines for the clerk, the first naming the file, line and column."""
    m = _WHERE.match(str(exc))
    raw = m["msg"] if m else str(exc)
    message = next((zh for pattern, zh in _MESSAGES if re.match(pattern, raw)), raw)
    lines = text.splitlines()
    if m and m["line"]:
        n, col = int(m["line"]), int(m["col"])
        source = lines[n - 1] if n - 1 < len(lines) else ""
        out = [f"{path}:{n}: TOML 语法错误（第 {n} 行第 {col} 列）：{message}",
               f"    {source}",
               "    " + _caret(source, col)]
        hints = _hints(source)
        if not hints and raw.startswith(("Invalid value", "Unclosed array")) and n >= 2:
            hints = _hints(lines[n - 2])  # the cause sits on the line before (an unclosed list or quote)
    else:
        out = [f"{path}: TOML 语法错误（在文件末尾）：{message}"]
        hints = [h for s in lines for h in _hints(s)][:3]
    out += [f"    提示：{h}" for h in hints]
    return out


def _caret(source: str, col: int) -> str:
    """A ^ under column `col`, counting a full-width character as two columns as a console shows it."""
    import unicodedata

    width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in source[:col - 1])
    return " " * width + "^"
