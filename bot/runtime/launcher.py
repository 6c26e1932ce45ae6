"""Starts the action server and the Rasa server together, the way `make run` and the tests do.

Rasa needs two processes: the rasa-sdk action server (actions/) and the Rasa server with the
trained model. The launcher starts both on loopback by default, points Rasa at the action server
and at a SQLite tracker store through the variables endpoints.yml reads, waits until both answer,
says where to open the assistant, starts the action server again when it dies (the Rasa server
answers safety messages without it), and stops both when Rasa stops or on Ctrl-C.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot import paths
from bot.center.config import CenterConfig
from bot.paths import ROOT
from bot.runtime import json_logs

REQUEST_MAX_BYTES = 256 * 1024
# Rasa's HTTP API (trackers, /model/parse) is off unless asked for, and then only on loopback and
# with this token, which bot/runtime/rasa_fixes.py hands to Rasa so that it never shows in `ps`.
API_TOKEN_ENV = "RASA_API_TOKEN"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# A dead action server is started again after this many seconds, doubling up to the maximum.
RESTART_DELAY = 1.0
# Files the servers create are private to the service's user.
PRIVATE_UMASK = 0o077
RESTART_DELAY_MAX = 30.0


@dataclass
class RunSettings:
    """Where and how to serve; every field has a local default."""

    host: str = "127.0.0.1"
    port: int = 5005
    action_port: int = 5055
    model: Path = paths.MODEL
    tracker_db: Path = paths.TRACKER_DB
    endpoints: Path = paths.ENDPOINTS
    credentials: Path = paths.CREDENTIALS
    # Rasa's REST channel too (tests/credentials.rest.yml): for tests, probes and benchmarks.
    rest: bool = False
    # Logs as JSON lines (bot/runtime/logging.json.yml), as the production profile has them.
    json_logs: bool = False
    enable_api: bool = False
    api_token: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://{self.host}:{self.port}"

    def api_path(self, path: str) -> str:
        """A Rasa HTTP API `path` (such as /model/parse) with the token in its query."""
        joiner = "&" if "?" in path else "?"
        return f"{path}{joiner}{urllib.parse.urlencode({'token': self.api_token})}"

    def api(self, path: str) -> str:
        """The URL of a Rasa HTTP API `path`, with the token."""
        return f"{self.url}{self.api_path(path)}"

    def check(self) -> None:
        """Refuses settings that would open the HTTP API to anyone.

        Raises:
            RuntimeError: the API is asked for without a token, or on a non-loopback interface.

        """
        if not self.enable_api:
            return
        if not self.api_token:
            raise RuntimeError(f"Rasa's HTTP API needs a token: set {API_TOKEN_ENV}")
        if self.host not in LOOPBACK:
            raise RuntimeError(
                f"Rasa's HTTP API is served on loopback only, not on {self.host}; "
                "put nginx in front for the family channels"
            )

    @property
    def action_url(self) -> str:
        """The action server's webhook, as Rasa calls it."""
        return f"http://127.0.0.1:{self.action_port}/webhook"


def server_env(settings: RunSettings) -> dict[str, str]:
    """The environment both servers run with (endpoints.yml reads two of these)."""
    return {
        **os.environ,
        "ACTION_ENDPOINT_URL": settings.action_url,
        "TRACKER_DB": str(settings.tracker_db),
        # rasa-sdk's action server listens where SANIC_HOST says (its default is every
        # interface); Rasa reaches it on loopback, so nothing else needs to.
        "SANIC_HOST": "127.0.0.1",
        # Sanic refuses larger request bodies with 413 before any channel reads them (its
        # default is 100 MB); the channels' own limits are far below this.
        "SANIC_REQUEST_MAX_SIZE": str(REQUEST_MAX_BYTES),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **settings.extra_env,
        API_TOKEN_ENV: settings.api_token if settings.enable_api else "",
    }


def enabled_channels(
    credentials: dict[str, Any], env: dict[str, str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Splits channels into those whose ${VARIABLES} are all set, and the rest.

    A channel that needs a secret (the SMS gateway's auth token) stays off on a laptop that has
    none, instead of stopping Rasa at start-up. Returns the enabled channels and, for each
    disabled one, the variables it is missing.
    """
    enabled: dict[str, Any] = {}
    missing: dict[str, list[str]] = {}
    for channel, section in (credentials or {}).items():
        names = re.findall(r"\$\{(\w+)\}", yaml.safe_dump(section))
        unset = [name for name in names if not env.get(name)]
        if unset:
            missing[channel] = unset
        else:
            enabled[channel] = section
    return enabled, missing


def unset_endpoint_variables(endpoints: Path, env: dict[str, str]) -> list[str]:
    """The ${VARIABLES} of an endpoints file that are not in `env` (Rasa would stop on them).

    A variable set to the empty string counts as set (an empty password, for trust auth).
    """
    lines = endpoints.read_text(encoding="utf-8").splitlines()
    values = "\n".join(line.split("#", 1)[0] for line in lines)  # comments aside
    names = re.findall(r"\$\{(\w+)\}", values)
    return sorted({name for name in names if name not in env})


# What several replicas must share beyond endpoints.production.yml's stores: the variable, the
# URL schemes it may have, and what it holds. SMS_DB (when the SMS channel is on) is shared too.
SHARED_STATE = (
    ("REQUESTS_DB_URL", ("postgresql",), "callback requests"),
    ("RATE_LIMIT_STORAGE_URL", ("redis://", "rediss://"), "rate limits"),
)


def unshared_state(env: dict[str, str]) -> list[str]:
    """What the production profile would keep inside one replica: one sentence per variable.

    A callback request stored in one replica's SQLite file, or a rate limit counted in its
    memory, is invisible to the others; the profile refuses to start that way.
    """
    problems = [
        f"{name} must point every replica at the same {what} store ({' or '.join(schemes)}...)"
        for name, schemes, what in SHARED_STATE
        if not env.get(name, "").strip().startswith(schemes)
    ]
    sms = env.get("SMS_DB", "").strip()
    if sms and not sms.startswith("postgresql"):
        problems.append("SMS_DB must be a PostgreSQL URL that every replica shares")
    return problems


def write_credentials(settings: RunSettings, env: dict[str, str]) -> Path:
    """Writes the credentials Rasa runs with (the channels that can start) beside the tracker."""
    credentials = yaml.safe_load(settings.credentials.read_text(encoding="utf-8")) or {}
    if settings.rest:
        credentials.update(yaml.safe_load(paths.REST_CREDENTIALS.read_text(encoding="utf-8")))
    enabled, missing = enabled_channels(credentials, env)
    for channel, names in missing.items():
        print(f"channel {channel} is off: set {', '.join(names)} to enable it", file=sys.stderr)
    path = settings.tracker_db.parent / "credentials.run.yml"
    path.write_text(yaml.safe_dump(enabled), encoding="utf-8")
    return path


def rasa_command(subcommand: str, settings: RunSettings, credentials: Path) -> list[str]:
    """`rasa <subcommand>` on the settings' model, endpoints, credentials, interface and port.

    It runs through bot/runtime/rasa_fixes.py, Rasa's own command line with its fix applied.
    """
    return [
        sys.executable,
        "-m",
        "bot.runtime.rasa_fixes",
        subcommand,
        "--model",
        str(settings.model),
        "--endpoints",
        str(settings.endpoints),
        "--credentials",
        str(credentials),
        "--interface",
        settings.host,
        "--port",
        str(settings.port),
    ]


def commands(settings: RunSettings, credentials: Path) -> dict[str, list[str]]:
    """The two server command lines."""
    rasa = rasa_command("run", settings, credentials)
    if settings.enable_api:
        rasa.append("--enable-api")
    actions = [
        sys.executable,
        "-m",
        "rasa_sdk",
        "--actions",
        "actions",
        "--port",
        str(settings.action_port),
    ]
    if settings.json_logs:  # the same servers, started by bot.runtime.json_logs
        rasa = [*json_logs.command("rasa"), *rasa[3:]]
        actions = [*json_logs.command("actions"), *actions[3:]]
    return {"actions": actions, "rasa": rasa}


def fictional_warning(config: CenterConfig) -> str | None:
    """A loud warning when the shipped example values are still configured, else None."""
    keys = config.fictional_values()
    if not keys:
        return None
    bar = "!" * 78
    return (
        f"{bar}\n"
        f"WARNING: {config.path} holds FICTIONAL example values ({', '.join(keys)}).\n"
        "Families must never see these. Set CENTER_CONFIG to the center's real configuration.\n"
        f"{bar}"
    )


def free_port() -> int:
    """A loopback TCP port nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, processes: list[subprocess.Popen], timeout: float) -> bool:
    """Polls `url` until it answers, a process exits, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    return False


def _spawn(
    command: list[str], env: dict[str, str], log: Path | None, append: bool = False
) -> subprocess.Popen:
    """Starts one server, its output to `log` (or this terminal).

    Everything the servers create (the conversation store, the SMS store, Rasa's files) and the
    log itself are readable by this user only (umask 077): they hold what families typed. The
    child gets its own copy of the log's file descriptor, so ours is closed at once.
    """
    if log is None:
        return subprocess.Popen(command, cwd=ROOT, env=env, umask=PRIVATE_UMASK)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    descriptor = os.open(log, flags, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "wb") as output:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            umask=PRIVATE_UMASK,
        )


class Servers:
    """The running pair of servers; use as a context manager to stop both on exit.

    The Rasa server answers safety messages by itself, so a dead action server must not take it
    down: a watchdog thread starts the action server again (after 1 s, doubling up to 30 s while
    it keeps dying), and meanwhile Rasa tells families who need it to call.
    """

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts = 0
        self._commands: dict[str, list[str]] = {}
        self._env: dict[str, str] = {}
        self._logs: dict[str, Path | None] = {}
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    def start(self, timeout: float = 180.0, log_dir: Path | None = None) -> None:
        """Starts both servers and waits until both answer; raises if either does not."""
        self.settings.check()
        if not self.settings.model.exists():
            raise RuntimeError(f"no trained model at {self.settings.model}: run `make train`")
        self.settings.tracker_db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._env = server_env(self.settings)
        unset = unset_endpoint_variables(self.settings.endpoints, self._env)
        if unset:
            raise RuntimeError(
                f"{self.settings.endpoints.name} needs these environment variables: "
                f"{', '.join(unset)}"
            )
        if self.settings.endpoints == paths.ENDPOINTS_PRODUCTION:
            problems = unshared_state(self._env)
            if problems:
                raise RuntimeError("the production profile: " + "; ".join(problems))
        credentials = write_credentials(self.settings, self._env)
        self._commands = commands(self.settings, credentials)
        for name, command in self._commands.items():
            self._logs[name] = log_dir / f"{name}.log" if log_dir else None
            self.processes[name] = _spawn(command, self._env, self._logs[name])
        procs = list(self.processes.values())
        if not (
            wait_until_up(self.action_health, procs, timeout)
            and wait_until_up(self.settings.url, procs, timeout)
        ):
            self.stop()
            raise RuntimeError("the assistant did not start; see the servers' output above")
        self._watchdog = threading.Thread(target=self._keep_actions_up, daemon=True)
        self._watchdog.start()

    @property
    def action_health(self) -> str:
        """The action server's health URL."""
        return f"http://127.0.0.1:{self.settings.action_port}/health"

    def _keep_actions_up(self) -> None:
        """Starts the action server again whenever it exits, until `stop`."""
        delay = RESTART_DELAY
        started = time.monotonic()
        while not self._stopping.wait(0.5):
            code = self.processes["actions"].poll()
            if code is None:
                continue
            if time.monotonic() - started > 60:
                delay = RESTART_DELAY  # it ran a good while: not a crash loop
            print(
                f"the action server exited (code {code}); starting it again in {delay:g} s",
                file=sys.stderr,
                flush=True,
            )
            if self._stopping.wait(delay):
                return
            log = self._logs.get("actions")
            self.processes["actions"] = _spawn(self._commands["actions"], self._env, log, True)
            self.restarts += 1
            started = time.monotonic()
            delay = min(delay * 2, RESTART_DELAY_MAX)

    def stop(self) -> None:
        """Stops both servers, politely first."""
        self._stopping.set()
        if self._watchdog is not None:
            self._watchdog.join()
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def wait(self) -> int:
        """Blocks until the Rasa server exits; returns its exit code."""
        while True:
            code = self.processes["rasa"].poll()
            if code is not None:
                return code
            time.sleep(0.5)

    def __enter__(self) -> Servers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
