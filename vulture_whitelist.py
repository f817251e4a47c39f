"""Names only a framework or the interpreter uses, for `vulture` (settings in pyproject.toml [tool.vulture]).

vulture reports code that nothing in `pipeline/` refers to. These are referred to from outside our code: click
calls its hooks, logging and watchdog call the methods they define, python-docx, openpyxl and xlsxwriter read
the attributes we set on their objects, the interpreter calls the hooks we install. This file is only parsed,
never run or imported. Anything else vulture finds is dead code: delete it (a function only tests call is dead
too). Click commands are left out by `ignore_decorators` instead of being listed here."""
from vulture.whitelist_utils import Whitelist

_ = Whitelist()

# click: the help formatter, context and command classes, and the hooks they override (cli/zh_click.py,
# cli/materials.py); `cmd.__class__ = ZhCommand` re-classes a command added to a group
_.write_heading
_.write_dl
_.formatter_class
_.context_class
_.command_class
_.group_class
_.get_short_help_str
_.get_metavar
_.__class__

# logging: the formatter's and handler's hooks (storage/logs.py), with logging's own signature
_.formatTime
_.handleError
_.datefmt

# watchdog: the event handler's hook (intake/watch.py)
_.on_any_event

# the interpreter: the hook for exceptions nobody can catch (cli/commands.py), and a signal handler's signature
_.unraisablehook
_.signum

# the sandbox's worker loop, started by name in a fresh interpreter (`python -c "... import _serve ..."`)
_._serve

# a fault-injection point's signature: production passes a function that does nothing with the step's name
_.step

# fields of data types, kept whole though no code reads them back: a row of mail_messages (intake/fetch_store.py),
# a cell and a header field as the reader found them (reading/locate.py), and the Obligation protocol's file kinds
_.after_done
_.formula
_.label_found
_.kinds

# read by tests only, as the observable outcome of a behaviour (the watcher's debounce: how many times it rebuilt
# the workbooks for a burst of files)
_.rebuilds

# python-docx: page setup, paragraph format, core properties, runs and tables (documents/officialdoc.py)
_.orientation
_.page_height
_.page_width
_.top_margin
_.bottom_margin
_.left_margin
_.right_margin
_.footer_distance
_.odd_and_even_pages_header_footer
_.last_modified_by
_.modified
_.revision
_.rgb
_.alignment
_.line_spacing
_.line_spacing_rule
_.space_before
_.widow_control
_.keep_with_next
_.first_line_indent
_.left_indent
_.right_indent
_.autofit
_._blob

# openpyxl: fills, sheet views and page setup of the marked-up copy (reading/marks.py)
_.fill
_.tabSelected
_.paperSize
_.fitToHeight
_.fitToWidth
_.fitToPage
_.print_title_rows
_.page_margins

# xlsxwriter: the chart method replaced so a blank is drawn as a gap (monthly/workbook.py)
_._write_disp_blanks_as

# the interpreter: a module's __getattr__ (PEP 562) loads the library's public names on first use (pipeline/__init__.py)
_.__getattr__
