"""Untrusted bytes are parsed at arm's length: in a child process with a memory cap and a time limit.

A reader library can do worse than raise: a damaged .xls can make calamine ask for terabytes and abort, a
crafted file can loop for ever. Such a file must cost one E_UNREADABLE, not the watcher. `run_untrusted`
runs a top-level function in a warm worker — one child process reused for file after file, started again
only after a failure — so that isolation costs a round trip through a pipe, not a process start per file.

- Memory: the worker's address space is capped at `limits.parse_memory_mb` with RLIMIT_AS (POSIX). Windows
  has no `resource` module and no such cap: there only the time limit protects the parent (a child that
  asks for too much memory fails inside the child, or is killed when its time is up).
- Time: the parent waits `limits.parse_seconds` of wall time for an answer and then kills the worker. On
  POSIX the worker also sets its CPU-time limit before each job (RLIMIT_CPU, raised from what it has used
  so far), so a job that spins is stopped even if the parent is not waiting.
- The worker is a fresh interpreter (`python -c …`) that talks pickle over its stdin/stdout: it inherits no
  threads or locks from the parent (the watcher runs watchdog's threads; `fork` would copy their locks
  mid-use), it never re-imports the parent's main script (multiprocessing's "spawn" does), and Windows and
  Linux take the same code path. Starting costs about 0.1 s and happens once, and again after a failure.
  What the child writes to stderr (Rust's "memory allocation of … failed") is kept for the failure's
  reason and never reaches the clerk's console.

Exceptions that `fn` raises in the child (ReadProblem, ValueError, …) are raised again in the parent as the
same type, with the child's traceback as their `__cause__`; they must pickle. A child that aborts, is
killed, runs out of memory or out of time raises `SandboxFailure` instead.
"""
from __future__ import annotations

import atexit
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import traceback
from collections import deque
from typing import Any, Callable, Literal

from ..core.config import Limits

Kind = Literal["memory", "timeout", "crash"]
UNREADABLE = "文件已损坏或过大"


class SandboxFailure(Exception):
    "The child process reading an untrusted file aborted, was killed, ran out of memory or out of time"

    def __init__(self, reason_zh: str, kind: Kind):
        self.reason_zh = reason_zh
        self.kind = kind
        super().__init__(reason_zh, kind)

    def __reduce__(self):
        return (SandboxFailure, (self.reason_zh, self.kind))


class RemoteTraceback(Exception):
    "The traceback of an exception raised in the sandbox's child process (set as the exception's __cause__)"

    def __init__(self, text: str):
        self.text = text
        super().__init__(text)

    def __str__(self) -> str:
        return self.text


class ChildError(Exception):
    "An exception raised in the child that could not be sent back as itself (it does not pickle)"


# --- the child ---------------------------------------------------------------------------------------

def _limit_memory(memory_mb: float) -> None:
    try:
        import resource
    except ImportError:  # Windows: no address-space cap; the parent's time limit is the only guard
        return
    cap = int(memory_mb * 1024 * 1024)
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    except (ValueError, OSError):  # a platform that refuses (macOS ignores RLIMIT_AS): time limit only
        pass


def _limit_cpu(seconds: float) -> None:
    """Allow `seconds` more CPU time from now on (the worker's total grows with every file it reads)."""
    try:
        import resource
    except ImportError:
        return
    used = resource.getrusage(resource.RUSAGE_SELF)
    budget = int(used.ru_utime + used.ru_stime + seconds) + 1
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        resource.setrlimit(resource.RLIMIT_CPU, (budget if hard == resource.RLIM_INFINITY else min(budget, hard), hard))
    except (ValueError, OSError):
        pass


def _serve(memory_mb: float) -> None:
    """The worker's loop: read (fn, args, seconds) from stdin, write ("ok", result) or ("raise", exc,
    traceback) or ("memory",) to stdout. The protocol keeps the real stdout; print() in fn goes to stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the parent, which decides what stops
    requests = sys.stdin.buffer
    answer_fd = os.dup(sys.stdout.fileno())
    if sys.platform == "win32":  # no CRLF translation on the pipes: pickles are bytes
        import msvcrt

        msvcrt.setmode(sys.stdin.fileno(), os.O_BINARY)
        msvcrt.setmode(answer_fd, os.O_BINARY)
    answers = os.fdopen(answer_fd, "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    _limit_memory(memory_mb)

    while True:
        try:
            job = pickle.load(requests)
        except EOFError:  # the parent has gone or closed the pipe: nothing more to do
            return
        if job is None:
            return
        fn, args, seconds = job
        _limit_cpu(seconds)
        try:
            answer: tuple = ("ok", fn(*args))
        except MemoryError:
            answer = ("memory",)
        except BaseException as exc:  # noqa: BLE001 - every failure of fn goes back to the parent
            answer = ("raise", exc, traceback.format_exc())
        try:
            data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            if answer[0] == "raise":
                pickle.loads(data)  # an exception class whose __init__ does not match its args fails only here
        except MemoryError:
            answer, data = ("memory",), pickle.dumps(("memory",))
        except Exception:  # the result or the exception does not pickle
            what = answer[1]
            text = answer[2] if answer[0] == "raise" else traceback.format_exc()
            data = pickle.dumps(("raise", ChildError(f"{type(what).__name__}: {what}"), text))
        answers.write(len(data).to_bytes(8, "little") + data)  # framed: a bad answer cannot desync the pipe
        answers.flush()
        if answer[0] == "memory":
            return  # after running out of memory the heap is suspect: the parent starts a fresh worker


_BOOT = ("import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
         "from pipeline.reading.sandbox import _serve; _serve(float(sys.argv[1]))")


# --- the parent --------------------------------------------------------------------------------------

def _describe_exit(code: int | None, stderr: str) -> tuple[str, Kind]:
    if "memory allocation" in stderr or "MemoryError" in stderr or "out of memory" in stderr.lower():
        return f"{UNREADABLE}（读取所需内存过多，已中止）", "memory"
    xcpu = getattr(signal, "SIGXCPU", None)
    if code is not None and xcpu is not None and code == -xcpu:
        return f"{UNREADABLE}（读取超时，已中止）", "timeout"
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"{UNREADABLE}（读取程序异常终止，{name}）", "crash"
    return f"{UNREADABLE}（读取程序异常退出，代码 {code}）", "crash"


class _Worker:
    """One child process and the two threads that read its stdout (answers) and stderr (kept, bounded)."""

    def __init__(self, memory_mb: float):
        # No Rust backtrace: it would push calamine's "memory allocation failed" out of the lines kept below.
        env = {**os.environ, "RUST_BACKTRACE": "0"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, repr(float(memory_mb))], stdin=subprocess.PIPE, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr  # the three pipes asked for above
        self.stdin, self.stdout, self.stderr_pipe = self.proc.stdin, self.proc.stdout, self.proc.stderr
        self.answers: queue.Queue = queue.Queue()
        self.stderr: deque[bytes] = deque(maxlen=64)
        threading.Thread(target=self._read_answers, daemon=True, name="annex2-sandbox-out").start()
        threading.Thread(target=self._read_stderr, daemon=True, name="annex2-sandbox-err").start()
        self.send(list(sys.path))

    def _read_answers(self) -> None:
        stream = self.stdout
        while True:
            try:
                head = stream.read(8)
                data = stream.read(int.from_bytes(head, "little")) if len(head) == 8 else b""
            except (OSError, ValueError):
                data = b""
            if not data:  # EOF: the child has died (or was stopped)
                self.answers.put(("eof",))
                return
            try:
                self.answers.put(pickle.loads(data))
            except Exception as exc:  # an answer that does not unpickle here: that job's failure, not the worker's
                self.answers.put(("raise", ChildError(f"结果无法传回：{type(exc).__name__}: {exc}"), ""))

    def _read_stderr(self) -> None:
        try:
            for line in iter(self.stderr_pipe.readline, b""):
                self.stderr.append(line[-2000:])
        except (OSError, ValueError):  # closed by stop() while reading
            pass

    def send(self, obj: Any) -> None:
        pickle.dump(obj, self.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.stdin.flush()

    def stop(self, wait: float = 0) -> int | None:
        """End the child (asking first when `wait` > 0); its exit code."""
        proc = self.proc
        if wait and proc.poll() is None:
            try:
                self.send(None)
                proc.wait(wait)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        if proc.poll() is None:
            proc.kill()
        try:
            code = proc.wait(5)
        except subprocess.TimeoutExpired:
            code = None
        for stream in (self.stdin, self.stdout, self.stderr_pipe):
            try:
                stream.close()
            except OSError:
                pass
        return code

    def stderr_text(self) -> str:
        return b"".join(self.stderr).decode("utf-8", "replace")


class Sandbox:
    """A warm worker process for untrusted parsing; thread-safe (one job at a time).

        with Sandbox(limits) as box:
            book = box.run(reader.read_workbook, data, limits)
    """

    def __init__(self, limits: Limits):
        self.limits = limits
        self._worker: _Worker | None = None
        self._lock = threading.Lock()
        self.starts = 0  # how many worker processes were started (for tests and benchmarks)
        self.last_stderr = ""  # what the last failed worker wrote to stderr, for the log

    @property
    def pid(self) -> int | None:
        """The worker's process id while one runs."""
        worker = self._worker
        return worker.proc.pid if worker is not None and worker.proc.poll() is None else None

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fail(self, worker: _Worker) -> SandboxFailure:
        code = worker.stop()
        self._worker = None
        self.last_stderr = worker.stderr_text()
        reason, kind = _describe_exit(code, self.last_stderr)
        return SandboxFailure(reason, kind)

    def run(self, fn: Callable, *args: Any, seconds: float | None = None) -> Any:
        """fn(*args) in the worker. Raises what fn raises, or SandboxFailure."""
        timeout = self.limits.parse_seconds if seconds is None else seconds
        job = pickle.dumps((fn, args, timeout), protocol=pickle.HIGHEST_PROTOCOL)  # the caller's mistakes raise here
        with self._lock:
            if self._worker is None or self._worker.proc.poll() is not None:
                if self._worker is not None:
                    self._worker.stop()
                self._worker = _Worker(self.limits.parse_memory_mb)
                self.starts += 1
            worker = self._worker
            try:
                worker.stdin.write(job)
                worker.stdin.flush()
            except OSError:
                raise self._fail(worker) from None
            try:
                answer = worker.answers.get(timeout=timeout)
            except queue.Empty:
                worker.stop()
                self._worker = None
                raise SandboxFailure(f"{UNREADABLE}（读取超过 {timeout:g} 秒，已中止）", "timeout") from None
            except BaseException:  # Ctrl+C while waiting: this job's answer must not be taken for the next one's
                worker.stop()
                self._worker = None
                raise
            if answer[0] == "eof":
                raise self._fail(worker)
            if answer[0] == "memory":
                worker.stop(wait=1)
                self._worker = None
                raise SandboxFailure(f"{UNREADABLE}（读取所需内存超过 {self.limits.parse_memory_mb:g} MB）", "memory")
        if answer[0] == "ok":
            return answer[1]
        _tag, exc, text = answer
        raise exc from RemoteTraceback(text)

    def close(self) -> None:
        """Stop the worker: ask it to finish, and kill it if it does not."""
        with self._lock:
            if self._worker is not None:
                self._worker.stop(wait=2)
                self._worker = None


class SandboxPool:
    """Several warm workers for many files at once: `run` may be called from several threads (a
    ThreadPoolExecutor in the parent is enough, the parsing happens in the children), each call takes a free
    worker. For a batch of thousands of files on several cores.

        with SandboxPool(limits, workers=4) as pool, ThreadPoolExecutor(4) as threads:
            books = list(threads.map(lambda d: pool.run(read_workbook, d, limits), datas))
    """

    def __init__(self, limits: Limits, workers: int | None = None):
        self.limits = limits
        self.boxes = [Sandbox(limits) for _ in range(max(1, workers or os.cpu_count() or 1))]
        self._free: queue.Queue = queue.Queue()
        for box in self.boxes:
            self._free.put(box)

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, fn: Callable, *args: Any, seconds: float | None = None) -> Any:
        box = self._free.get()
        try:
            return box.run(fn, *args, seconds=seconds)
        finally:
            self._free.put(box)

    @property
    def starts(self) -> int:
        return sum(box.starts for box in self.boxes)

    def close(self) -> None:
        for box in self.boxes:
            box.close()


_shared: Sandbox | None = None
_shared_lock = threading.Lock()


def _sandbox_for(limits: Limits) -> Sandbox:
    """One worker for the whole process; started again when the memory cap it was started with changes."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.limits.parse_memory_mb != limits.parse_memory_mb:
            if _shared is not None:
                _shared.close()
            _shared = Sandbox(limits)
        return _shared


def warm_up(limits: Limits | None = None) -> None:
    """Start the shared worker now, so its interpreter starts while this process is still importing and
    reading its config (a one-file `annex2 validate` then waits for neither in turn)."""
    box = _sandbox_for(limits or Limits())
    with box._lock:
        if box._worker is None or box._worker.proc.poll() is not None:
            box._worker = _Worker(box.limits.parse_memory_mb)
            box.starts += 1


def run_untrusted(fn: Callable, *args: Any, limits: Limits, seconds: float | None = None) -> Any:
    """fn(*args) in the shared warm worker, under `limits.parse_memory_mb` and `limits.parse_seconds` (or
    `seconds`, for a job over several files). `fn` must be a top-level function and its arguments and result
    must pickle."""
    return _sandbox_for(limits).run(fn, *args, seconds=limits.parse_seconds if seconds is None else seconds)


def read_workbook_isolated(data: bytes, limits: Limits):
    """reader.read_workbook in the worker: a WorkbookData, or ReadProblem, or SandboxFailure."""
    from .reader import read_workbook

    return run_untrusted(read_workbook, data, limits, limits=limits)


def shutdown() -> None:
    """Stop the shared worker (also done at exit)."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None


atexit.register(shutdown)
_inherited: list[Sandbox] = []


def _forget_after_fork() -> None:
    """In a forked child (a fork-based process pool, say) the shared worker and its pipes belong to the
    parent: never write to them or stop them from here; the child starts its own worker when it needs one."""
    global _shared, _shared_lock
    if _shared is not None:
        _inherited.append(_shared)  # kept referenced: collecting it would try to stop the parent's process
    _shared = None
    _shared_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
