"""Several replicas of the assistant behind nginx on one machine: `make run-cluster`.

Each replica is a pair of servers as `python -m bot run` starts them (bot.runtime.launcher: a
Rasa server and its own action server), on the production profile, so every replica keeps
conversations in the same PostgreSQL database, locks them in the same Redis, and shares the
callback requests, the SMS state and the rate limits. nginx (Debian's package) listens in front,
on 127.0.0.1:8080 unless told otherwise, and passes the family channels and the staff dashboard
to any replica that is up.

The launcher waits until every replica's `/ready` says yes before nginx starts, starts a
replica again when its Rasa server exits, and stops everything on Ctrl-C. nginx skips a replica
that refuses connections for 5 s (open-source nginx has no active health checks); in a real
deployment an orchestrator polls `/ready` itself (docs/deploy.md).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import jinja2
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from bot import paths
from bot.runtime.launcher import (
    PRIVATE_UMASK,
    RunSettings,
    Servers,
    wait_until_up,
)

NGINX_TEMPLATE = Path(__file__).with_name("nginx.conf.j2")
# Sanic takes the client's address from the one X-Forwarded-For entry nginx adds (the staff
# sign-in limit counts per address, not per balancer).
BEHIND_ONE_PROXY = {"SANIC_PROXIES_COUNT": "1"}
RESTART_DELAY = 2.0


class ClusterError(RuntimeError):
    """The cluster cannot start; the message says what is missing or what failed."""


@dataclass
class ClusterSettings:
    """How many replicas, where nginx listens, and the ports behind it."""

    replicas: int = 2
    host: str = "127.0.0.1"
    port: int = 8080
    # Replica i listens on first_port + i, its action server on first_action_port + i, unless
    # `ports` (pairs of Rasa and action server ports, one per replica) says otherwise.
    first_port: int = 5006
    first_action_port: int = 5056
    ports: list[tuple[int, int]] = field(default_factory=list)
    state: Path = paths.VAR / "cluster"
    model: Path = paths.MODEL
    # Rasa's REST channel on each replica (never through nginx): for tests and benchmarks.
    rest: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Where the families' channels are reachable, through nginx."""
        return f"http://{self.host}:{self.port}"

    def replica_ports(self) -> list[tuple[int, int]]:
        """Each replica's Rasa port and action server port."""
        if self.ports:
            return self.ports[: self.replicas]
        return [(self.first_port + i, self.first_action_port + i) for i in range(self.replicas)]

    def replica(self, index: int) -> RunSettings:
        """The launcher settings of replica `index` (0-based): its ports and its state folder."""
        port, action_port = self.replica_ports()[index]
        return RunSettings(
            port=port,
            action_port=action_port,
            model=self.model,
            tracker_db=self.state / f"replica-{index + 1}" / "unused.db",
            endpoints=paths.ENDPOINTS_PRODUCTION,
            rest=self.rest,
            json_logs=True,
            extra_env={**BEHIND_ONE_PROXY, **self.extra_env},
        )


def nginx_binary() -> str:
    """The nginx executable (setup installs Debian's package when it is missing)."""
    found = shutil.which("nginx") or next(
        (str(p) for p in (Path("/usr/sbin/nginx"),) if p.exists()), None
    )
    if not found:
        raise ClusterError("nginx is not installed: `apt-get install nginx` (or run .ci/run)")
    return found


def nginx_config(settings: ClusterSettings, prefix: Path) -> str:
    """The nginx configuration for the settings' replicas, its files under `prefix`."""
    template = jinja2.Template(NGINX_TEMPLATE.read_text(encoding="utf-8"), autoescape=False)
    ports = [port for port, _ in settings.replica_ports()]
    return template.render(prefix=prefix, host=settings.host, port=settings.port, ports=ports)


def shared_state_env(database: URL, prefix: str) -> dict[str, str]:
    """The production profile's variables for state shared by replicas on this machine.

    One PostgreSQL database (tracker, callback requests) and the local Redis, its keys under
    `prefix`, rate limits in Redis database 2: what `make bench-cluster` and the cluster tests
    give each scratch cluster.
    """
    shared = database.render_as_string(hide_password=False)
    return {
        "TRACKER_PG_HOST": str(database.host),
        "TRACKER_PG_PORT": str(database.port or 5432),
        "TRACKER_PG_DB": str(database.database),
        "TRACKER_PG_USER": str(database.username or ""),
        "TRACKER_PG_PASSWORD": str(database.password or ""),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": "6379",
        "REDIS_KEY_PREFIX": prefix,
        "REQUESTS_DB_URL": shared,
        "RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:6379/2",
    }


def ensure_database(url: str | URL) -> bool:
    """Creates the PostgreSQL database `url` names when it does not exist; True if created.

    For `make run-cluster` on one machine; a hospital's database is made by its administrators.
    """
    target = make_url(url)
    server = target.set(database="postgres")
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT", future=True)
    try:
        with engine.connect() as db:
            exists = db.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            ).first()
            if exists:
                return False
            quoted = engine.dialect.identifier_preparer.quote(str(target.database))
            db.execute(sa.text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        engine.dispose()


class Cluster:
    """The running replicas and nginx; use as a context manager to stop them all on exit."""

    def __init__(self, settings: ClusterSettings) -> None:
        self.settings = settings
        self.replicas: list[Servers] = []
        self.nginx: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    @property
    def prefix(self) -> Path:
        """The folder of nginx: its configuration, logs and pid."""
        return self.settings.state / "nginx"

    def start(self, timeout: float = 240.0) -> None:
        """Starts every replica (in parallel), waits until each is ready, then starts nginx."""
        if (
            self.settings.replicas < 1
            or len(self.settings.replica_ports()) < self.settings.replicas
        ):
            raise ClusterError("a cluster needs at least one replica, and ports for each")
        binary = nginx_binary()
        self.settings.state.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.replicas = [Servers(self.settings.replica(i)) for i in range(self.settings.replicas)]
        with ThreadPoolExecutor(max_workers=len(self.replicas)) as pool:
            failures = [
                error
                for error in pool.map(lambda r: self._start_replica(r, timeout), self.replicas)
                if error
            ]
        if failures:
            self.stop()
            raise ClusterError("; ".join(failures))
        self._start_nginx(binary)
        self._watchdog = threading.Thread(target=self._keep_replicas_up, daemon=True)
        self._watchdog.start()

    def _start_replica(self, replica: Servers, timeout: float) -> str | None:
        """Starts one replica and waits for its /ready; the error, or None."""
        folder = replica.settings.tracker_db.parent
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            replica.start(timeout=timeout, log_dir=folder)
        except RuntimeError as error:
            return f"replica on port {replica.settings.port}: {error} (logs in {folder})"
        procs = list(replica.processes.values())
        if not wait_until_up(f"{replica.settings.url}/ready", procs, timeout):
            return f"replica on port {replica.settings.port} never became ready"
        return None

    def _start_nginx(self, binary: str) -> None:
        self.prefix.mkdir(mode=0o700, exist_ok=True)
        (self.prefix / "tmp").mkdir(mode=0o700, exist_ok=True)
        config = self.prefix / "nginx.conf"
        config.write_text(nginx_config(self.settings, self.prefix), encoding="utf-8")
        command = [binary, "-p", str(self.prefix), "-c", str(config)]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True)
        if checked.returncode != 0:
            self.stop()
            raise ClusterError(f"nginx refused its configuration: {checked.stderr.strip()}")
        log = (self.prefix / "nginx.out").open("wb")
        with log:
            self.nginx = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, umask=PRIVATE_UMASK
            )
        if not wait_until_up(f"{self.settings.url}/health", [self.nginx], 30):
            self.stop()
            raise ClusterError(f"nginx did not start; see {self.prefix / 'error.log'}")

    def _keep_replicas_up(self) -> None:
        """Starts a replica again when its Rasa server exits, until `stop`."""
        while not self._stopping.wait(0.5):
            for index, replica in enumerate(self.replicas):
                if replica.processes["rasa"].poll() is None:
                    continue
                print(
                    f"replica {index + 1} (port {replica.settings.port}) stopped; starting again",
                    file=sys.stderr,
                    flush=True,
                )
                replica.stop()
                if self._stopping.wait(RESTART_DELAY):
                    return
                fresh = Servers(
                    replace(replica.settings, extra_env=dict(replica.settings.extra_env))
                )
                self.replicas[index] = fresh
                error = self._start_replica(fresh, 240.0)
                self.restarts += 1
                if error:
                    print(f"replica {index + 1}: {error}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        """Stops nginx first (no new requests), then every replica."""
        self._stopping.set()
        if self._watchdog is not None:
            self._watchdog.join()
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        for replica in self.replicas:
            replica.stop()

    def wait(self) -> int:
        """Blocks until nginx exits; returns its exit code."""
        assert self.nginx is not None
        while True:
            code = self.nginx.poll()
            if code is not None:
                return code
            time.sleep(0.5)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
