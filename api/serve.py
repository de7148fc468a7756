"""Serving with one or more uvicorn worker processes.

Each worker listens on its own socket bound with SO_REUSEPORT, so the kernel spreads new
connections over the workers (by a hash of their addresses; ``api.balance`` has the busier
worker close keep-alive connections, so a few busy ones do not stay on one worker). With one
shared socket (uvicorn's own launcher) an idle worker's event loop accepts a whole burst of
connections at once, and keep-alive connections stay where they were accepted: measured, one
worker served almost all of 16 connections and two workers did no better than one. The
sockets also set TCP_NODELAY (uvicorn issue #3149: Nagle's algorithm cost 2.5 → 44 ms p50 on
keep-alive). A small supervisor restarts a worker
that dies and stops them all on SIGTERM/SIGINT. Next to the web workers runs one background
process (``api.background``): the job worker and the index writer, out of the web workers'
GIL."""

from __future__ import annotations

import functools
import multiprocessing
import signal
import socket
import sys
import threading

import uvicorn

APP = "api.app:create_app"
# A thread that lets go of the GIL (every SQLite row, every file read) waits for it up to the
# switch interval while another thread computes. 5 ms (Python's default) made a case save — a
# few dozen statements — take hundreds of ms beside a suggestion; 0.5 ms measured creation p99
# 90 vs 267 ms at 20 creations/s + 100 suggestions/s (bench/write_load.py), suggestions unchanged.
SWITCH_INTERVAL = 0.0005


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def _config(host: str, port: int, log_level: str, app: str = APP) -> uvicorn.Config:
    return uvicorn.Config(app, factory=True, host=host, port=port, log_level=log_level, access_log=False)


def _worker(host: str, port: int, log_level: str, app: str = APP, board=None, slot: int = 0) -> None:
    # a spawned worker starts with no logging set up: without this its access lines were lost
    from api import balance, heap
    from api.logging import configure_logging
    from kb.settings import get_settings

    configure_logging(json_lines=get_settings().log_json)
    sys.setswitchinterval(SWITCH_INTERVAL)
    heap.enable()
    if board is not None and len(board) > 1:
        balance.enable(board, slot)
    sock = listening_socket(host, port)
    uvicorn.Server(_config(host, port, log_level, app)).run(sockets=[sock])


def _background(jobs: bool, index_writer: bool) -> None:
    from api.background import run

    run(jobs=jobs, index_writer=index_writer, announce=False)


def serve(host: str, port: int, *, workers: int = 1, log_level: str = "warning", app: str = APP) -> None:
    """The web workers plus, unless the node runs ``python -m api worker`` instead, one
    background process for the job worker and the index writer (``api.background``).
    ``app``: another app factory served the same way (bench/suggest_load.py's framework ceiling)."""
    import os

    from kb.settings import get_settings

    settings = get_settings()
    jobs, index_writer = (settings.embedded_worker, settings.embedded_indexer) if app == APP else (False, False)
    if not hasattr(socket, "SO_REUSEPORT"):
        if workers > 1:
            raise SystemExit("--workers > 1 needs SO_REUSEPORT (Linux, BSD, macOS)")
        uvicorn.Server(_config(host, port, log_level)).run()     # jobs and writer stay embedded
        return
    listening_socket(host, port).close()     # fail here, once, if the port is taken
    # the web workers (spawned: they read the environment afresh) leave both to the background process
    os.environ["ZHIKU_EMBEDDED_WORKER"] = os.environ["ZHIKU_EMBEDDED_INDEXER"] = "false"
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def stop(*_):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    board = context.RawArray("i", max(workers, 1))        # requests in flight per worker (api.balance)

    def start_worker(slot: int):
        process = context.Process(target=_worker, args=(host, port, log_level, app, board, slot),
                                  daemon=False)
        process.start()
        return process

    def start_background():
        process = context.Process(target=_background, args=(jobs, index_writer), name="zhiku-background",
                                  daemon=False)
        process.start()
        return process

    starters = [functools.partial(start_worker, slot) for slot in range(max(workers, 1))] + (
        [start_background] if jobs or index_writer else [])
    processes = [start() for start in starters]
    while not stopping.wait(0.5):
        for i, p in enumerate(processes):
            if not p.is_alive():                                  # a crashed process is replaced
                processes[i] = starters[i]()
    for p in processes:
        p.terminate()                                             # SIGTERM: each shuts down gracefully
    for p in processes:
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
