"""A PostgreSQL primary and a streaming standby of its own, started for the replica tests.

Both clusters live in a temporary directory owned by the ``postgres`` OS user (initdb refuses
to run as root, and the tests run as root), on ports of their own: the system cluster and its
pg_hba are never touched. The standby is made as a deployment makes one, with
``pg_basebackup -R`` (which writes its primary_conninfo and standby.signal).
"""

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path(os.environ.get("LHS_PG_BIN", "/usr/lib/postgresql/15/bin"))
# The ports these clusters may take (the first two free ones): beside the system's 5432.
PORTS = range(5440, 5450)


def available() -> bool:
    return all((BIN / tool).is_file() for tool in ("initdb", "pg_ctl", "pg_basebackup"))


def _free_ports(count: int) -> list[int]:
    free = []
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        free.append(port)
        if len(free) == count:
            return free
    raise RuntimeError(f"no {count} free ports in {PORTS}")


def _as_postgres(*command: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)  # noqa: S603


@dataclass
class Cluster:
    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        try:
            _as_postgres(
                str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "log"),
                "-w", "-t", "60", "start",
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            log = (self.data / "log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"PostgreSQL on port {self.port} did not start:\n{log}") from exc

    def stop(self, mode: str = "fast") -> None:
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")


# Small and quick: nothing here needs durability past the test session.
_PRIMARY_CONF = """
listen_addresses = '127.0.0.1'
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 4
hot_standby = on
fsync = off
synchronous_commit = on
full_page_writes = off
shared_buffers = 32MB
max_connections = 60
"""


@contextmanager
def primary_and_standby() -> Iterator[tuple[Cluster, Cluster]]:
    """Start both, yield them (the standby streaming from the primary), stop and remove both."""
    root = Path(tempfile.mkdtemp(prefix="lhs-replica-"))
    shutil.chown(root, "postgres", "postgres")
    started: list[Cluster] = []
    # Two sessions (xdist workers, or two runs) choosing ports at once would pick the same
    # ones: each chooses and binds its ports while holding this lock.
    lock = (Path(tempfile.gettempdir()) / "lhs-replica-ports.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        primary_port, standby_port = _free_ports(2)
        primary = Cluster(root / "primary", primary_port)
        standby = Cluster(root / "standby", standby_port)
        _as_postgres(
            str(BIN / "initdb"), "-D", str(primary.data), "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        with (primary.data / "postgresql.conf").open("a") as conf:
            conf.write(_PRIMARY_CONF.format(sockets=root) + f"port = {primary.port}\n")
        # Local trust for replication too, on loopback only: this cluster is the test's own.
        with (primary.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        primary.start()
        started.append(primary)
        _as_postgres(
            str(BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", "postgres", "-D", str(standby.data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        with (standby.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {standby.port}\n")
        standby.start()
        started.append(standby)
        fcntl.flock(lock, fcntl.LOCK_UN)
        yield primary, standby
    finally:
        for cluster in reversed(started):
            with contextlib.suppress(subprocess.CalledProcessError):  # a test stopped it
                cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
        lock.close()
