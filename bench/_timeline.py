"""Second by second: requests' latency and which process used the CPU.

Why: a p99 over a 30 s window says a tail happened, not when or beside what. A write_load run
whose p99 moved ×10 between two runs of the same code needs the seconds the slow requests
were scheduled in, set beside each server process's CPU share in those seconds (web workers,
the background process and its index writer, the database server, the client itself).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import psutil


def _label(process: psutil.Process, root_pid: int, port: int) -> str:
    """What a process of the server's tree (or the database) is: "worker" (it listens on the
    port), "postgres", "background" (any other child of the server), "bg-child" (a process
    under one of those, e.g. the index writer), or "gone"."""
    try:
        if any(c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
               for c in process.net_connections(kind="tcp")):
            return "worker"
        name = process.name()
        if name.startswith("postgres"):
            return "postgres"
        parent = process.ppid()
        return "background" if parent == root_pid else "bg-child"
    except psutil.Error:
        return "gone"


class CpuTimeline:
    """Samples every second, from the moment ``start`` is called: CPU seconds per process of the
    server's tree (and of processes named ``extra_names``, a PostgreSQL cluster), the client's own,
    the machine's busy share, and the CPU time stolen by the host (``steal``: a neighbour's
    load, not ours)."""

    def __init__(self, root_pid: int, port: int, extra_names: tuple[str, ...] = ("postgres",)) -> None:
        self.root_pid, self.port, self.extra_names = root_pid, port, extra_names
        self.rows: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._labels: dict[int, str] = {}
        self.t0 = 0.0

    def _processes(self) -> list[psutil.Process]:
        root = psutil.Process(self.root_pid)
        out = root.children(recursive=True)
        out += [p for p in psutil.process_iter(["name"])
                if (p.info["name"] or "").startswith(self.extra_names)]
        return out

    def _times(self) -> dict[str, float]:
        used: dict[str, float] = {}
        for p in self._processes():
            try:
                label = self._labels.get(p.pid)
                if label is None:
                    label = self._labels[p.pid] = _label(p, self.root_pid, self.port)
                if label == "worker":
                    label = f"worker{p.pid}"
                t = p.cpu_times()
            except psutil.Error:
                continue
            used[label] = used.get(label, 0.0) + t.user + t.system
        me = psutil.Process().cpu_times()
        used["client"] = me.user + me.system
        machine = psutil.cpu_times()
        used["machine"] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        # time the hypervisor gave this machine's CPUs to someone else: noise from outside
        used["steal"] = getattr(machine, "steal", 0.0)
        return used

    def _run(self) -> None:
        last, last_at = self._times(), time.perf_counter()
        while not self._stop.wait(1.0):
            now, at = self._times(), time.perf_counter()
            span = at - last_at
            self.rows.append((last_at - self.t0, {k: (v - last.get(k, 0.0)) / span for k, v in now.items()}))
            last, last_at = now, at

    def start(self, t0: float) -> None:
        self.t0 = t0
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def print_timeline(title: str, started: list[tuple[float, str, float, bool]], cpu: CpuTimeline,
                   phase_start: float, seconds: float) -> None:
    """One line per second of a phase: requests scheduled in it (p50 / p99 / max ms, errors)
    and the CPU share (cores) of each process kind in the sample taken over that second."""
    print(f"-- {title}: second, requests, p50 / p99 / max ms, errors; CPU cores per process")
    for second in range(int(seconds)):
        this_second = [(ms, ok) for at, _kind, ms, ok in started if second <= at < second + 1]
        lat = [ms for ms, _ok in this_second]
        errors = sum(not ok for _ms, ok in this_second)
        at = phase_start + second
        cpu_row = next((row for t, row in cpu.rows if at - 0.5 <= t < at + 0.5), {})
        workers = sorted(k for k in cpu_row if k.startswith("worker"))
        shares = " ".join(f"w{i}={cpu_row[k]:.2f}" for i, k in enumerate(workers))
        rest = " ".join(f"{k}={v:.2f}" for k, v in sorted(cpu_row.items())
                        if not k.startswith("worker") and v >= 0.01)
        if lat:
            arr = np.asarray(lat)
            print(f"{second:3d} {len(lat):4d} {np.percentile(arr, 50):7.1f} {np.percentile(arr, 99):7.1f} "
                  f"{arr.max():7.1f} {errors:3d}  {shares} {rest}")


def phase_summary(title: str, started: list, cpu: CpuTimeline, phase_start: float, seconds: float) -> str:
    """One line for a phase: the web workers' CPU per request answered (ms; a slower machine or
    extra work per request shows here), the background's and the client's cores, the cores
    busy with anything else on the machine, and the host's steal."""
    rows = [row for t, row in cpu.rows if phase_start - 0.5 <= t < phase_start + seconds - 0.5]
    if not rows or not started:
        return f"{title}: no CPU samples"

    def mean(pick) -> float:
        return sum(pick(r) for r in rows) / len(rows)

    workers = mean(lambda r: sum(v for k, v in r.items() if k.startswith("worker")))
    background = mean(lambda r: r.get("background", 0.0) + r.get("bg-child", 0.0))
    ours = mean(lambda r: sum(v for k, v in r.items() if k not in ("machine", "steal")))
    per_request = workers * len(rows) / len([s for s in started if s[0] < len(rows)]) * 1000
    return (f"{title}: web workers {workers:.2f} cores ({per_request:.1f} ms CPU per request), background "
            f"{background:.2f}, client {mean(lambda r: r.get('client', 0.0)):.2f}, everything else "
            f"{max(mean(lambda r: r.get('machine', 0.0)) - ours, 0.0):.2f}, "
            f"steal {mean(lambda r: r.get('steal', 0.0)):.2f}")
