"""The busier web worker asks its clients to reconnect, so keep-alive connections follow the load.

Why: each worker accepts on its own ``SO_REUSEPORT`` socket (``api.serve``) and the kernel places
a connection by a hash of its addresses, once; it stays on that worker for as long as the client
keeps it alive. A client — or a proxy's upstream pool — that sends most requests over a few
connections can so load one worker while the other idles. ``bench/write_load.py`` saw it in its
first 30 s: one worker at 0.84–0.91 of a core (all one process's GIL gives) and the other at
0.21–0.33, suggestion p99 120 ms, against 31 ms in the next 30 s once new connections had evened
it out. So the workers of one ``serve`` publish their requests in flight on a shared board, and
a worker answers with ``Connection: close`` while it has at least ``MARGIN`` more than the least
busy other one (or more than its handler threads). The client's next connection is placed
afresh, on another worker about half the time with two. A connection costs a fraction of a
millisecond on a LAN; workers evenly loaded seldom shed one.

Only the workers of ``serve --workers N`` with N > 1 shed (``enable``): alone, a reconnection
would land on the same process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

MARGIN = 2          # requests in flight beyond the least busy worker's before this one sheds

_board = None       # multiprocessing RawArray("i", N): each worker's requests in flight
_slot = 0


def enable(board, slot: int) -> None:
    """This process is worker ``slot`` of those sharing ``board``; a restarted worker's slot
    starts from zero (its predecessor may have died with requests in flight)."""
    global _board, _slot
    _board, _slot = board, slot
    board[slot] = 0


def should_shed(board, slot: int, threads: int) -> bool:
    mine = board[slot]
    others = [board[i] for i in range(len(board)) if i != slot]
    return bool(others) and (mine > threads or mine - min(others) >= MARGIN)


@contextmanager
def parked() -> Iterator[None]:
    """A request waiting on the event loop for work done elsewhere (an import's job, for
    minutes) is not load: off this worker's count while it waits, back on before it answers.
    Why: counted, it made its worker look one request busier for the whole import, so that
    worker shed connections its neighbour then served. Measured (PostgreSQL, 100k cases, 20
    creations + 70 suggestions/s, an import posted at 10 s; the two web workers' CPU after the
    post, five runs each): 0.37–0.53 against 0.72–0.74 of a core before, even to 0.02 after.
    At 100 suggestions/s the busier one needs more than the ~0.85 core a process gets."""
    board, slot = _board, _slot
    if board is None:
        yield
        return
    board[slot] -= 1
    try:
        yield
    finally:
        board[slot] += 1


class ShedWhenBusy:
    """Pure ASGI: keeps this worker's count on the board (one event loop writes it, so a plain
    increment) and closes the connection of a response sent while ``should_shed``."""

    def __init__(self, app, threads: int) -> None:
        self.app = app
        self.threads = threads
        self.shed = 0           # connections closed so far

    async def __call__(self, scope, receive, send) -> None:
        board, slot = _board, _slot
        if scope["type"] != "http" or board is None:
            await self.app(scope, receive, send)
            return

        async def send_maybe_closing(message) -> None:
            if message["type"] == "http.response.start" and should_shed(board, slot, self.threads):
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
                self.shed += 1
            await send(message)

        board[slot] += 1
        try:
            await self.app(scope, receive, send_maybe_closing)
        finally:
            board[slot] -= 1
