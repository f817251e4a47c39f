"""The Windows lane on Linux (`.ci/run`). With ANNEX2_WINDOWS_LANE=1 and this folder first on PYTHONPATH, every
Python process of the run -- pytest, each `python -m pipeline ...` a test starts, each sandbox worker those
start -- comes up as on Windows in the two ways the intake depends on:

- no `resource` module: `import resource` raises ImportError, so the sandbox's worker has no RLIMIT_AS memory
  cap and no RLIMIT_CPU limit; only the parent's wall-clock limit stops a runaway parse;
- no `os.fork`: a child process can only be a fresh interpreter (what multiprocessing calls "spawn", the only
  start method Windows has). The sandbox starts its worker that way everywhere (subprocess, `python -c`).

Python imports `sitecustomize` at start-up from the first folder on sys.path that holds one; child processes
inherit PYTHONPATH and ANNEX2_WINDOWS_LANE from the environment. Nothing else of the platform is simulated:
paths, file locking (fcntl vs msvcrt) and signals stay Linux's."""
import os
import sys

if os.environ.get("ANNEX2_WINDOWS_LANE") == "1":
    sys.modules["resource"] = None  # type: ignore[assignment]  # None in sys.modules: import raises ImportError
    for name in ("fork", "forkpty"):
        if hasattr(os, name):
            delattr(os, name)
