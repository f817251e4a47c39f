"""Top-level functions for the sandbox tests (the child imports them by name, so they live in a module)."""
import os


def echo(x):
    return x


def abort():
    os.abort()


def allocate(megabytes):
    block = bytearray(megabytes * 1024 * 1024)
    return len(block)


def spin():
    while True:
        pass


def raise_value_error(text):
    raise ValueError(text)


def exit_hard(code):
    os._exit(code)


def lengths_or_abort(datas, limits):
    """A batch reader that dies with its whole batch when one of the files says so."""
    if b"abort" in datas:
        os.abort()
    return [len(d) for d in datas]


def importable(name):
    """Whether the worker can import `name` (the Windows lane takes `resource` away from every process)."""
    try:
        __import__(name)
    except ImportError:
        return False
    return True
