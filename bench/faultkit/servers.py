"""A Redis server and a Postgres cluster of the fault suite's own, on free ports.

The fault scenarios kill, wipe and restart these, so they are never the shared servers on 6379
and 5432: each suite run starts its own in a temporary directory and removes it at the end.
Nothing here imports imagejobs, so the suite can start its servers before any imagejobs
setting is read.

Postgres comes from the Debian binaries (``/usr/lib/postgresql/<version>/bin``, or the folder
named by ``IMAGEJOBS_FAULTS_PG_BINDIR``, or ``initdb`` on ``PATH``). ``initdb`` refuses to run as
root, so as root every Postgres command runs as the ``postgres`` OS user (``runuser``) on a
directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis


class ServerError(RuntimeError):
    """A server of the suite could not be started or stopped; the message says which and why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class OwnRedis:
    """``redis-server`` on a free port with no persistence: a kill loses everything it held."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise ServerError("redis-server is not installed (Debian package redis-server)")
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.log_path = root / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self, timeout_s: float = 15.0) -> None:
        if self.proc is not None:
            raise ServerError(f"own Redis on port {self.port} is already running")
        assert self.binary is not None
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.root),
                    "--databases",
                    "1",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise ServerError(f"own Redis exited at start:\n{_tail(self.log_path)}")
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        self.kill()
        raise ServerError(f"own Redis not answering after {timeout_s} s:\n{_tail(self.log_path)}")

    def kill(self) -> None:
        """SIGKILL: the server and everything it held are gone at once."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def restart_empty(self, down_s: float) -> None:
        """Kill, stay down ``down_s`` seconds, start again empty on the same port."""
        self.kill()
        time.sleep(down_s)
        self.start()

    def flushall(self) -> None:
        self.client().flushall()

    @staticmethod
    def shutdown_port(port: int) -> None:
        """Ask whatever Redis a killed suite left on ``port`` to exit (no-op if none)."""
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(host="127.0.0.1", port=port, socket_timeout=5).shutdown(nosave=True)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def postgres_bindir() -> Path:
    """Where ``initdb`` and ``pg_ctl`` live; a clear error if Postgres is not installed."""
    configured = os.environ.get("IMAGEJOBS_FAULTS_PG_BINDIR")
    if configured:
        path = Path(configured)
        if not (path / "initdb").exists():
            raise ServerError(f"IMAGEJOBS_FAULTS_PG_BINDIR={configured} holds no initdb")
        return path

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parents[1].name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ServerError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package "
        "postgresql, or set IMAGEJOBS_FAULTS_PG_BINDIR"
    )


class OwnPostgres:
    """A throwaway Postgres cluster (trust auth, user ``postgres``) on a free port.

    Its directory is a fresh temporary one (under /tmp, so the ``postgres`` OS user can reach
    it when we run as root); :meth:`remove` deletes it.
    """

    def __init__(
        self, port: int | None = None, root: Path | None = None, bindir: Path | None = None
    ) -> None:
        self.bindir = bindir or postgres_bindir()
        self.as_root = os.geteuid() == 0
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="imagejobs-faults-pg-"))
            root.chmod(0o755)
            if self.as_root:
                shutil.chown(root, user="postgres", group="postgres")
        self.root = root
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.port = port or free_port()
        self.running = False

    @classmethod
    def attach(cls, root: Path, bindir: Path) -> OwnPostgres:
        """The cluster a killed suite process left in ``root``, to stop it."""
        cluster = cls(port=0, root=root, bindir=bindir)
        cluster.running = True
        return cluster

    def _run(self, *args: str, timeout_s: float = 60.0) -> None:
        command = list(args)
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise ServerError(f"{Path(args[0]).name} took longer than {timeout_s} s") from None
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")
            raise ServerError(
                f"{Path(args[0]).name} {' '.join(args[1:3])} failed ({done.returncode}):\n"
                f"{output}\n{_tail(self.log_path)}"
            )

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self, timeout_s: float = 30.0) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log_path),
            "-w",
            "-t",
            str(int(timeout_s)),
            "start",
            timeout_s=timeout_s + 10,
        )
        self.running = True

    def stop(self, mode: str = "fast", timeout_s: float = 30.0) -> None:
        """``fast``: clients disconnected, transactions rolled back; ``immediate``: a crash."""
        if not self.running:
            return
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-m",
            mode,
            "-w",
            "-t",
            str(int(timeout_s)),
            "stop",
            timeout_s=timeout_s + 10,
        )
        self.running = False

    def restart(self, down_s: float, mode: str = "fast") -> None:
        self.stop(mode)
        time.sleep(down_s)
        self.start()

    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self) -> None:
        """Stop (as a crash: nothing is kept) and delete the cluster's directory."""
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
