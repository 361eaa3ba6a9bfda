"""Parsing in a second process: the batches of a large file are parsed by a forked process
while the importing one writes the batches before them (two cores: one parses, one writes).

The parsing process never waits for the writer until it is :data:`AHEAD` batches ahead: a
thread of its own pickles nothing and only hands the pickled batches over the pipe, which is
widened to hold a whole batch (:data:`PIPE_BYTES`). The writer thus finds the next batch
waiting instead of waking the parser for every 64 kB of the default pipe, which on a busy
machine cost more than the parsing (each wake-up waits for a turn on a core).
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import pickle
import queue
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from revisit.errors import ImportFileError

T = TypeVar("T")

AHEAD = 8  # batches the parsing process may be ahead of the writer (a few MB)
PIPE_BYTES = 1 << 20  # a whole pickled batch (Linux allows 1 MiB without privileges)
_DONE = pickle.dumps(None, pickle.HIGHEST_PROTOCOL)


def parsed_in_second_process(
    produce: Callable[[], Iterator[T]], failed: Callable[[BaseException], T], path: str
) -> Iterator[T]:
    """The items of ``produce()`` (run in a forked process), in order, as they come.

    An exception in ``produce`` ends the items with ``failed(exc)`` (which reports it, e.g.
    as an unreadable file); a parsing process that dies without a word raises
    :class:`ImportFileError` naming ``path``. Closing the iterator early stops the process.
    """
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    _widen(sender)
    child = ctx.Process(target=_produce_into, args=(produce, failed, sender, receiver), daemon=True)
    child.start()
    sender.close()
    try:
        while True:
            try:
                item = receiver.recv()
            except EOFError:
                raise ImportFileError(f"{path}: the reading process stopped") from None
            if item is None:
                return
            yield item
    finally:
        receiver.close()
        child.join(timeout=10)
        if child.is_alive():
            child.kill()


def _produce_into(
    produce: Callable[[], Iterator[Any]],
    failed: Callable[[BaseException], Any],
    sender: Connection,
    receiver: Connection,
) -> None:
    """In the parsing process: pickle each item here and let a thread send it, so that parsing
    goes on while the pipe is full (up to :data:`AHEAD` items)."""
    receiver.close()  # the writer's end: once the writer closes it, a send here fails
    out: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)
    stopped = threading.Event()  # the writer has gone: stop parsing

    def send() -> None:
        while (data := out.get()) is not None:
            if stopped.is_set():
                continue  # drain, so that the parsing thread never blocks on a full queue
            try:
                sender.send_bytes(data)
            except (BrokenPipeError, OSError):
                stopped.set()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        for item in produce():
            if stopped.is_set():
                break
            out.put(pickle.dumps(item, pickle.HIGHEST_PROTOCOL))
    except BaseException as exc:  # reported, not lost
        out.put(pickle.dumps(failed(exc), pickle.HIGHEST_PROTOCOL))
    out.put(_DONE)
    out.put(None)
    thread.join()
    sender.close()


def _widen(pipe: Connection) -> None:
    """Let ``pipe`` hold a whole pickled batch (a few hundred kB), so that it goes over in
    one write. Where the system refuses, the pipe stays as it was: slower, not wrong."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
