"""A PostgreSQL primary and a streaming standby of its own, started for the replica tests.

Both clusters live in a temporary directory owned by the ``postgres`` OS user (initdb refuses
to run as root, and the tests run as root), on ports of their own: the system cluster and its
pg_hba are never touched. The standby is made as a deployment makes one, with
``pg_basebackup -R`` (which writes its primary_conninfo and standby.signal).
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN = Path(os.environ.get("LHS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PRIMARY_PORT = 5441
STANDBY_PORT = 5442


def available() -> bool:
    return all((BIN / tool).is_file() for tool in ("initdb", "pg_ctl", "pg_basebackup"))


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
        _as_postgres(
            str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "log"),
            "-w", "-t", "30", "start",
        )  # fmt: skip

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
    primary = Cluster(root / "primary", PRIMARY_PORT)
    standby = Cluster(root / "standby", STANDBY_PORT)
    started: list[Cluster] = []
    try:
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
        yield primary, standby
    finally:
        for cluster in reversed(started):
            with contextlib.suppress(subprocess.CalledProcessError):  # a test stopped it
                cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
