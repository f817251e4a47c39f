"""`annex2` at the command line: the click commands (commands.py) and what they share (support.py)."""
from .commands import main

__all__ = ["main"]
