"""click speaks Chinese: its own words (用法、选项、错误……) from a message catalogue, the way gettext would.

click looks every user-facing word up through `gettext` at the moment it prints it (`_("Usage:")`,
`_("No such option {name!r}.")` …). A gettext catalogue would need a locale the clerk's Windows does not set,
so `install()` points click's look-up at the catalogue below instead. A message missing here stays English;
tests/test_chinese.py walks every command's help and the usual usage errors, so a click upgrade that
rewords a message shows up as a failing test, not as English on a clerk's screen.
"""
from __future__ import annotations

import inspect
import re

import click

from ..core.textable import display_width, join_lines, wrap

# click's msgid -> ours. Placeholders ({name!r} …) are kept: click formats the result.
CATALOGUE: dict[str, str] = {
    # help pages
    "Usage:": "用法：",
    "Options": "选项",
    "Commands": "命令",
    "Show this message and exit.": "显示本帮助并退出。",
    "Show the version and exit.": "显示版本号并退出。",
    "%(prog)s, version %(version)s": "%(prog)s 版本 %(version)s",
    "default: {default}": "默认：{default}",
    "required": "必填",
    "env var: {var}": "环境变量：{var}",
    "(dynamic)": "（动态）",
    "deprecated": "已弃用",
    # errors
    "Error: {message}": "错误：{message}",
    "Try '{command} {option}' for help.": "查看帮助：{command} {option}",
    "Aborted!": "已中止。",
    "Missing command.": "缺少命令。",
    "No such option {name!r}.": "没有选项 {name!r}。",
    "No such command {name!r}.": "没有命令 {name!r}。",
    "Did you mean {possibility}?": "您是不是想用 {possibility}？",
    "(Did you mean one of: {possibilities}?)": "（您是不是想用其中之一：{possibilities}？）",
    "Got unexpected extra argument ({args})": "多出了参数（{args}）",
    "Got unexpected extra arguments ({args})": "多出了参数（{args}）",
    "Missing argument": "缺少参数",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing {param_type}": "缺少{param_type}",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Invalid value: {message}": "取值无效：{message}",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的取值无效：{message}",
    "Option {name!r} requires an argument.": "选项 {name!r} 后面要跟一个值。",
    "Option {name!r} requires {nargs} arguments.": "选项 {name!r} 后面要跟 {nargs} 个值。",
    "Option {name!r} does not take a value.": "选项 {name!r} 不接受值。",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Value must be an iterable.": "取值必须是一组值。",
    "Takes {nargs} values but 1 was given.": "需要 {nargs} 个值，只给了 1 个。",
    "Takes {nargs} values but {len} were given.": "需要 {nargs} 个值，给了 {len} 个。",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "unknown error": "未知错误",
    "Invalid start character for option ({option})": "选项的开头字符无效（{option}）",
    # parameter types
    "file": "文件",
    "directory": "文件夹",
    "path": "路径",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是文件，这里要的是文件夹。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是文件夹，这里要的是文件。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 无法读取（没有权限？）。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 无法写入（没有权限？）。",
    "{name} {filename!r} is not executable.": "{name} {filename!r} 不可执行。",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的{number_type}。",
    "{value} is not in the range {range}.": "{value} 不在 {range} 范围内。",
    "{value!r} is not {choice}.": "{value!r} 不是 {choice}。",
    "{value!r} is not one of {choices}.": "{value!r} 不是 {choices} 之一。",
    "Choose from:\n\t{choices}": "可选：\n\t{choices}",
    "{value!r} is not a valid boolean. Recognized values: {states}": "{value!r} 不是有效的真假值，可用：{states}",
    "{value!r} is not a valid UUID.": "{value!r} 不是有效的 UUID。",
    "{value!r} does not match the format {format}.": "{value!r} 不符合格式 {format}。",
    "{value!r} does not match the formats {formats}.": "{value!r} 不符合格式 {formats} 中的任何一种。",
    "{len_type} values are required, but {len_value} was given.": "需要 {len_type} 个值，给了 {len_value} 个。",
    "{len_type} values are required, but {len_value} were given.": "需要 {len_type} 个值，给了 {len_value} 个。",
    "integer": "整数",
    "float": "数字",
    # prompts
    "Repeat for confirmation": "请再输入一次确认",
    "Error: The two entered values do not match.": "错误：两次输入不一致。",
    "Error: invalid input": "错误：输入无效",
    "Do you want to continue?": "是否继续？",
    "Confirm the action without prompting.": "不再询问，直接执行。",
    "Press any key to continue...": "按任意键继续……",
}

OPTIONS_METAVAR = "[选项]"
SUBCOMMAND_METAVAR = "命令 [参数]..."
_CLICK_MODULES = ("core", "exceptions", "types", "parser", "decorators", "formatting", "termui")


def gettext(message: str) -> str:
    return CATALOGUE.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


# An ASCII full stop that ends a sentence after Chinese text or a quoted name (click writes
# "Missing option '--month'."): the Chinese full stop.
_ASCII_STOP = re.compile(r"(?<=[^\x00-\x7f]|['\")\]])\.(?=\s|$)")
_SENTENCE_END = set("。？！：…") | set("?!:")


def sentence(text: str) -> str:
    """A message as a Chinese sentence: ASCII full stops after Chinese or quotes become 。, and a one-line message
    that ends without punctuation gets its 。 (“多出了参数（extra）” -> “多出了参数（extra）。”). A message of several
    lines (a config excerpt with a caret under the error) keeps its lines as they are, stops aside. Idempotent."""
    text = _ASCII_STOP.sub("。", text)
    stripped = text.rstrip()
    if stripped and "\n" not in stripped and stripped[-1] not in _SENTENCE_END and has_chinese(stripped):
        return stripped + "。"
    return text


def _in_sentences(format_message):
    def wrapped(self) -> str:
        return sentence(format_message(self))

    wrapped.__wrapped__ = format_message
    return wrapped


def install() -> None:
    """Route click's message look-ups through CATALOGUE, end click's error messages with 。 and name its number
    types in Chinese (idempotent)."""
    import importlib

    for name in _CLICK_MODULES:
        module = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = gettext  # type: ignore[attr-defined]  # click keeps it private
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext  # type: ignore[attr-defined]
    for cls in vars(click.exceptions).values():
        if (isinstance(cls, type) and issubclass(cls, click.ClickException) and "format_message" in vars(cls)
                and not hasattr(vars(cls)["format_message"], "__wrapped__")):
            cls.format_message = _in_sentences(vars(cls)["format_message"])  # type: ignore[method-assign]
    # "'x' 不是有效的integer": click names the type by its English `name`, untranslated
    click.types.IntParamType.name = gettext("integer")
    click.types.FloatParamType.name = gettext("float")


# --- Chinese text in a terminal: two columns per character, breaks between characters, not only at spaces.

def _paragraphs(text: str) -> list[tuple[bool, list[str]]]:
    """(keep as written, lines) per paragraph; a paragraph whose first line is \\b is kept as written."""
    out, block = [], []
    for line in text.splitlines() + [""]:
        if line.strip():
            block.append(line)
        elif block:
            keep = block[0].strip() == "\b"
            out.append((keep, block[1:] if keep else block))
            block = []
    return out


class ZhHelpFormatter(click.HelpFormatter):
    """click's formatter, measuring Chinese characters as two columns and wrapping between them."""

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        chunks = []
        for keep, lines in _paragraphs(text):
            if keep:
                chunks.append("\n".join(indent + line for line in lines))
            else:
                chunks.append("\n".join(wrap(join_lines(lines), self.width, indent)))
        self.write("\n\n".join(chunks))
        self.write("\n")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{heading}：\n")  # 选项： not 选项:

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        first_col = min(max((display_width(r[0]) for r in rows), default=0), col_max) + col_spacing
        pad = " " * (first_col + self.current_indent)
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if display_width(first) <= first_col - col_spacing:
                self.write(" " * (first_col - display_width(first)))
            else:
                self.write("\n" + pad)
            text_width = max(self.width - first_col - 2, 10)
            lines = [line for keep, para in _paragraphs(second)
                     for line in (para if keep else wrap(join_lines(para), text_width))]
            self.write((lines[0] if lines else "") + "\n")
            for line in lines[1:]:
                self.write(f"{pad}{line}\n")


class ZhContext(click.Context):
    formatter_class = ZhHelpFormatter


def short_help(cmd: click.Command, limit: int) -> str:
    """The first sentence of the help (up to 。), cut to `limit` terminal columns."""
    if cmd.short_help:
        return inspect.cleandoc(cmd.short_help).strip()
    paragraphs = _paragraphs(inspect.cleandoc(cmd.help or "").partition("\f")[0])
    if not paragraphs:
        return ""
    text = join_lines(paragraphs[0][1])
    sentence = re.match(r"^.*?[。.](?=\s|$)|^.*?。", text)
    text = sentence.group(0) if sentence else text
    limit = max(limit, 20)
    if display_width(text) > limit:
        while display_width(text + "……") > limit:
            text = text[:-1]
        text += "……"
    return text


class ZhCommand(click.Command):
    """A command whose help and usage are laid out for Chinese text and say [选项] instead of [OPTIONS]."""

    context_class = ZhContext

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        super().__init__(*args, **kwargs)

    def get_short_help_str(self, limit: int = 45) -> str:
        return short_help(self, limit)


class ZhGroup(click.Group):
    """A group whose sub-commands (and their sub-commands, whichever module adds them) speak Chinese in their
    help and usage, and accept --config before or after the sub-command name."""

    context_class = ZhContext
    command_class = ZhCommand
    group_class = type  # sub-groups are ZhGroups too

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("options_metavar", OPTIONS_METAVAR)
        kwargs.setdefault("subcommand_metavar", SUBCOMMAND_METAVAR)
        super().__init__(*args, **kwargs)

    def get_short_help_str(self, limit: int = 45) -> str:
        return short_help(self, limit)

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        # A plain click command from another module gets the Chinese layout too (the classes add no state).
        if type(cmd) is click.Command:
            cmd.__class__ = ZhCommand
        elif type(cmd) is click.Group:
            cmd.__class__ = ZhGroup
            for sub in list(cmd.commands.values()):
                ZhGroup.add_command(cmd, sub)  # type: ignore[arg-type]  # cmd's class was just changed
        if cmd.options_metavar == "[OPTIONS]":
            cmd.options_metavar = OPTIONS_METAVAR
        if isinstance(cmd, click.Group) and cmd.subcommand_metavar == "COMMAND [ARGS]...":
            cmd.subcommand_metavar = SUBCOMMAND_METAVAR
        if not any(p.name == "config_path" for p in cmd.params):
            cmd.params.append(config_option_after())
        super().add_command(cmd, name)


def _remember_config(ctx: click.Context, param: click.Parameter, value):
    """--config given after the sub-command: the root's value is what load_config reads."""
    if value is not None:
        ctx.find_root().params["config_path"] = value
    return value


def config_option_after() -> click.Option:
    from pathlib import Path

    return click.Option(["--config", "config_path"], type=click.Path(path_type=Path),
                        default=None, expose_value=False, is_eager=True, callback=_remember_config,
                        metavar="文件",
                        help="使用这个配置文件（也可写在子命令之前，或用环境变量 ANNEX2_CONFIG 指定）。")


_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def has_chinese(text: str) -> bool:
    return bool(_CJK.search(text))
