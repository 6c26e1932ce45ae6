"""The assistant's command line: `python -m bot <command>`.

Commands:
  run            start the assistant (action server + Rasa server) on local defaults
  cluster        start several replicas behind nginx (production profile, `make run-cluster`)
  content-check  check every response's provenance and print its reading grade
  cv-report      print per-intent F1 from a `rasa test nlu --cross-validation` output folder
  requests       callback requests for staff: list, show, handled, export, deliver
  conversations  the conversation store: purge old conversations, forget one
  review         what families asked that the assistant could not place: groups, export, mark
  staff          staff dashboard accounts (/staff): add, list, unlock, remove
  story-report   write summary.md for a `rasa test core` output folder (`make test-stories`)
  story export   write a stored conversation as a test story
  chat           talk to the assistant in the terminal (`rasa shell`, action server started)
  content-report write every response as each channel shows it, for clinical review
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from bot import paths
from bot.callbacks import cli as requests_cli
from bot.center.config import ConfigError, center_config
from bot.conversations import cli as conversations_cli
from bot.review import cli as review_cli
from bot.runtime.launcher import API_TOKEN_ENV, RunSettings, Servers, fictional_warning
from bot.staff import cli as staff_cli


def _where_kept(args: argparse.Namespace, settings: RunSettings) -> str:
    if args.profile != "production":
        return str(settings.tracker_db)
    database = f"{os.environ.get('TRACKER_PG_HOST')}/{os.environ.get('TRACKER_PG_DB')}"
    return f"PostgreSQL ({database}); conversation locks in Redis"


def _run(args: argparse.Namespace) -> int:
    try:
        config = center_config()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    warning = fictional_warning(config)
    if warning:
        print(warning, file=sys.stderr)
    settings = RunSettings(
        host=args.host,
        port=args.port,
        action_port=args.action_port,
        tracker_db=Path(args.tracker_db).resolve(),
        rest=args.rest,
        enable_api=args.enable_api,
        api_token=os.environ.get(API_TOKEN_ENV, ""),
    )
    if args.model:
        settings.model = Path(args.model).resolve()
    if args.profile == "production":
        settings.endpoints = paths.ENDPOINTS_PRODUCTION
        settings.json_logs = True
    started = time.monotonic()
    with Servers(settings) as servers:
        try:
            servers.start()
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        rest = (
            f"  REST channel (testing): POST {settings.url}/webhooks/rest/webhook "
            '{"sender": "me", "message": "what is relapse?"}\n'
            if settings.rest
            else ""
        )
        print(
            f"\nThe assistant is ready after {time.monotonic() - started:.0f} s.\n"
            f"  Website chat: {settings.url}/chat  (embed on a page: "
            f'<script src="{settings.url}/chat/widget.js" defer></script>)\n'
            f"{rest}"
            f"  Conversations are kept in {_where_kept(args, settings)}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        if warning:
            print(warning, file=sys.stderr)
        try:
            return servers.wait()
        except KeyboardInterrupt:
            return 0


def _cluster(args: argparse.Namespace) -> int:
    from bot.runtime.cluster import Cluster, ClusterError, ClusterSettings, ensure_database

    settings = ClusterSettings(replicas=args.replicas, host=args.host, port=args.port)
    if args.model:
        settings.model = Path(args.model).resolve()
    try:
        if args.create_databases:
            for url in _cluster_databases():
                if ensure_database(url):
                    print(f"created the PostgreSQL database {url.database}")
        with Cluster(settings) as cluster:
            cluster.start()
            print(
                f"\n{settings.replicas} replica(s) ready behind nginx.\n"
                f"  Website chat: {settings.url}/chat\n"
                f"  SMS webhook:  {settings.url}/webhooks/sms/webhook\n"
                f"  Replicas: {', '.join(r.settings.url for r in cluster.replicas)}"
                " (each has /health and /ready)\n"
                f"  Logs: {settings.state}\n"
                "Press Ctrl-C to stop.\n",
                flush=True,
            )
            try:
                return cluster.wait()
            except KeyboardInterrupt:
                return 0
    except (ClusterError, SQLAlchemyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _cluster_databases() -> list[URL]:
    """The PostgreSQL databases the production profile's variables name."""
    env = os.environ
    tracker = URL.create(
        "postgresql",
        username=env.get("TRACKER_PG_USER") or None,
        password=env.get("TRACKER_PG_PASSWORD") or None,
        host=env.get("TRACKER_PG_HOST"),
        port=int(env.get("TRACKER_PG_PORT") or 5432),
        database=env.get("TRACKER_PG_DB"),
    )
    others = [env.get(name, "") for name in ("REQUESTS_DB_URL", "SMS_DB")]
    return [tracker, *(make_url(url) for url in others if url.startswith("postgresql"))]


def _content_check(args: argparse.Namespace) -> int:
    from bot.devtools import content_check

    try:
        result = content_check.report(content_check.load_domain(), center_config())
    except (content_check.SourceMissing, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(content_check.format_report(result))
    return 1 if result["problems"] else 0


def _cv_report(args: argparse.Namespace) -> int:
    from bot.devtools import cv_report

    try:
        report = cv_report.load(Path(args.folder))
    except cv_report.ReportMissing as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(cv_report.format_table(report))
    return 0


def _story_report(args: argparse.Namespace) -> int:
    from bot.devtools import story_report

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"error: {folder} is not a folder; run `make test-stories`", file=sys.stderr)
        return 2
    run = story_report.write_summary(folder, replay=args.replay)
    total = len(run.passed) + len(run.failed)
    print(f"stories: {total}  passed: {len(run.passed)}  failed: {len(run.failed)}")
    for story in run.failed:
        print(f"FAILED {story.name}")
    print(f"report: {folder / story_report.SUMMARY_FILE}")
    return 1 if run.failed or not total else 0


def _story_export(args: argparse.Namespace) -> int:
    from bot.devtools import story_export

    try:
        text = story_export.export_story(args.sender_id, Path(args.db), name=args.name)
    except story_export.ExportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.out == "-":
        sys.stdout.write(text)
    else:
        out = Path(args.out)
        refusal = story_export.unread_story_file(out)
        if refusal:
            print(f"error: {refusal}", file=sys.stderr)
            return 2
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}; review it, then run `make test-stories`")
        elsewhere = story_export.outside_stories(out)
        if elsewhere:
            print(elsewhere, file=sys.stderr)
    return 0


def _content_report(args: argparse.Namespace) -> int:
    from bot.devtools import content_check, content_report

    try:
        config = center_config()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out = content_report.write(Path(args.out), content_check.load_domain(), config)
    print(f"wrote {out}")
    return 0


def _chat(args: argparse.Namespace) -> int:
    from bot.devtools import chat

    return chat.main(model=Path(args.model).resolve() if args.model else None)


def parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    root = argparse.ArgumentParser(
        prog="python -m bot",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start the assistant")
    defaults = RunSettings()
    run.add_argument("--host", default=defaults.host, help="interface to listen on")
    run.add_argument("--port", type=int, default=defaults.port)
    run.add_argument("--action-port", type=int, default=defaults.action_port)
    run.add_argument("--model", help="trained model (default: models/nb-assistant.tar.gz)")
    run.add_argument("--tracker-db", default=str(defaults.tracker_db), help="SQLite file")
    run.add_argument(
        "--profile",
        choices=("embedded", "production"),
        default="embedded",
        help="embedded: SQLite and in-process locks (default); production: PostgreSQL "
        "conversations and Redis locks for several replicas (endpoints.production.yml)",
    )
    run.add_argument(
        "--rest",
        action="store_true",
        help="also start Rasa's REST channel (unauthenticated: tests and probes only)",
    )
    run.add_argument(
        "--enable-api",
        action="store_true",
        help=f"enable Rasa's HTTP API, on loopback only, with the token in ${API_TOKEN_ENV}",
    )
    run.set_defaults(handler=_run)

    cluster = commands.add_parser("cluster", help="several replicas behind nginx")
    cluster.add_argument("--replicas", type=int, default=2, help="Rasa replicas (default 2)")
    cluster.add_argument("--host", default="127.0.0.1", help="interface nginx listens on")
    cluster.add_argument("--port", type=int, default=8080, help="port nginx listens on")
    cluster.add_argument("--model", help="trained model (default: models/nb-assistant.tar.gz)")
    cluster.add_argument(
        "--create-databases",
        action="store_true",
        help="create the PostgreSQL databases the variables name when missing (one machine)",
    )
    cluster.set_defaults(handler=_cluster)

    check = commands.add_parser("content-check", help="provenance and reading grade report")
    check.set_defaults(handler=_content_check)

    cv = commands.add_parser("cv-report", help="per-intent F1 from cross-validation output")
    cv.add_argument("folder", nargs="?", default="results/cross-validation")
    cv.set_defaults(handler=_cv_report)

    report = commands.add_parser("story-report", help="summary.md for story test output")
    report.add_argument("folder", nargs="?", default="reports/stories")
    report.add_argument(
        "--replay",
        action="store_true",
        help="replay stories with a misread message through the real assistant (what the "
        "family would have got)",
    )
    report.set_defaults(handler=_story_report)

    story = commands.add_parser("story", help="test stories from real conversations")
    story_commands = story.add_subparsers(dest="story_command", required=True)
    export = story_commands.add_parser("export", help="write a conversation as a test story")
    export.add_argument("sender_id", help="the conversation's id (the REST channel's sender)")
    export.add_argument("--db", default=str(defaults.tracker_db), help="SQLite tracker store")
    export.add_argument("--out", default="-", help="file to write (default: standard output)")
    export.add_argument("--name", help="the story's name (default: sender and intents)")
    export.set_defaults(handler=_story_export)

    wording = commands.add_parser("content-report", help="all wording per channel, for review")
    wording.add_argument("out", nargs="?", default="reports/content.md")
    wording.set_defaults(handler=_content_report)

    chat = commands.add_parser("chat", help="talk to the assistant in the terminal")
    chat.add_argument("--model", help="trained model (default: models/nb-assistant.tar.gz)")
    chat.set_defaults(handler=_chat)

    requests_cli.add_parser(commands, daily=conversations_cli.daily_purge)
    conversations_cli.add_parser(commands)
    review_cli.add_parser(commands)
    staff_cli.add_parser(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    """Parses the arguments and runs the command."""
    args = parser().parse_args(argv)
    return args.handler(args)
