"""The production profile (endpoints.production.yml): the real assistant with its conversations
in PostgreSQL (a schema of this test's own) and its conversation locks in Redis."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bot import paths
from bot.runtime.launcher import Servers, unset_endpoint_variables, unshared_state
from tests.conftest import Conversation, http_json, require, server_settings
from tests.request_stores import PG_URL, pg_schema
from tests.test_lock_store import REDIS_HOST, REDIS_PORT, _redis_up


def production_env(schema: str, prefix: str) -> dict[str, str]:
    url = make_url(PG_URL)
    in_schema = url.update_query_dict({"options": f"-csearch_path={schema}"})
    shared = in_schema.render_as_string(hide_password=False)
    return {
        "REQUESTS_DB_URL": shared,
        "SMS_DB": shared,
        "RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:6379/2",
        "TRACKER_PG_HOST": str(url.host),
        "TRACKER_PG_PORT": str(url.port or 5432),
        "TRACKER_PG_DB": str(url.database),
        "TRACKER_PG_USER": str(url.username or ""),
        "TRACKER_PG_PASSWORD": str(url.password or ""),
        "POSTGRESQL_SCHEMA": schema,  # Rasa's way to choose the schema
        "REDIS_HOST": REDIS_HOST,
        "REDIS_PORT": str(REDIS_PORT),
        "REDIS_KEY_PREFIX": prefix,
    }


def test_the_production_profile_names_every_variable_it_needs():
    unset = unset_endpoint_variables(paths.ENDPOINTS_PRODUCTION, {"ACTION_ENDPOINT_URL": "x"})
    assert unset == [
        "REDIS_HOST",
        "REDIS_KEY_PREFIX",
        "REDIS_PORT",
        "TRACKER_PG_DB",
        "TRACKER_PG_HOST",
        "TRACKER_PG_PASSWORD",
        "TRACKER_PG_PORT",
        "TRACKER_PG_USER",
    ]


def test_a_server_without_them_refuses_to_start_and_says_which(trained_model, tmp_path):
    settings = server_settings(trained_model, tmp_path)
    settings.endpoints = paths.ENDPOINTS_PRODUCTION
    with Servers(settings) as servers, pytest.raises(RuntimeError, match="TRACKER_PG_HOST"):
        servers.start()


def test_state_kept_inside_one_replica_is_refused_by_name():
    local = {
        "REQUESTS_DB_URL": "sqlite:///var/requests.db",
        "RATE_LIMIT_STORAGE_URL": "memory://",
        "SMS_DB": "var/sms.db",
    }
    problems = unshared_state(local)
    assert [problem.split()[0] for problem in problems] == [
        "REQUESTS_DB_URL",
        "RATE_LIMIT_STORAGE_URL",
        "SMS_DB",
    ]
    shared = {
        "REQUESTS_DB_URL": "postgresql://nb@db/nb",
        "RATE_LIMIT_STORAGE_URL": "redis://cache:6379/2",
    }
    assert unshared_state(shared) == []  # the SMS channel is off: SMS_DB is not needed


def test_a_server_with_them_but_local_state_refuses_to_start(trained_model, tmp_path):
    settings = server_settings(trained_model, tmp_path)  # requests and SMS in SQLite files
    settings.endpoints = paths.ENDPOINTS_PRODUCTION
    # Checked before anything starts: the stores named need not exist.
    endpoints = unset_endpoint_variables(paths.ENDPOINTS_PRODUCTION, {})
    settings.extra_env.update({name: "x" for name in endpoints if name != "ACTION_ENDPOINT_URL"})
    settings.extra_env["RATE_LIMIT_STORAGE_URL"] = "redis://127.0.0.1:6379/2"
    with Servers(settings) as servers, pytest.raises(RuntimeError, match="REQUESTS_DB_URL"):
        servers.start()


def test_conversations_are_kept_in_postgresql_and_locked_in_redis(trained_model, tmp_path: Path):
    require(_redis_up(), f"Redis is not running on {REDIS_HOST}:{REDIS_PORT}")
    prefix = f"test{uuid.uuid4().hex}"
    with pg_schema("nb_tracker_prod") as schema:
        settings = server_settings(trained_model, tmp_path)
        settings.endpoints = paths.ENDPOINTS_PRODUCTION
        settings.extra_env.update(production_env(schema, prefix))
        with Servers(settings) as servers:
            servers.start(log_dir=tmp_path)
            assert http_json(f"{settings.url}/ready")["checks"] == {
                "model": True,
                "tracker_store": True,
                "lock_store": True,
            }
            conversation = Conversation(settings)
            assert conversation.ask("what is mibg therapy")[-1] == "utter_mibg"
            assert conversation.ask("my child has a fever of 39")[-1] == "utter_fever"
        engine = sa.create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
        with engine.connect() as db:
            texts = db.execute(
                sa.text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user'"),
                {"s": conversation.sender},
            ).all()
        engine.dispose()
    assert len(texts) == 2  # both messages, once each, in PostgreSQL
    assert not (tmp_path / "tracker.db").exists()  # not in the embedded SQLite file
    import redis

    leftover = list(redis.StrictRedis(REDIS_HOST, REDIS_PORT, db=1).scan_iter(f"{prefix}*"))
    assert leftover == []  # every lock was returned and deleted
