"""Staff story tools: the story-test report (bot/devtools/story_report.py) and story export."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import paths
from bot.cli import main
from bot.devtools import story_export, story_replay, story_report
from bot.devtools.chat import export_hint
from bot.paths import ROOT
from bot.runtime.launcher import RunSettings, server_env

# Rasa's real output for tests/data/story_report/test_broken.yml (`rasa test core --e2e
# --successes`); only the story files' absolute paths were made relative to the repository.
FIXTURE = ROOT / "tests" / "data" / "story_report"


def test_failed_stories_name_the_story_turn_expected_and_actual():
    failed = story_report.parse_failed_stories(FIXTURE / "failed_test_stories.yml", ROOT)
    by_name = {story.name: story for story in failed}
    assert set(by_name) == {
        "wrong answer expected for the MIBG room",
        "wrong intent expected for a fever",
        "entity not marked in the story",
    }
    room = by_name["wrong answer expected for the MIBG room"]
    assert room.file == "tests/data/story_report/test_broken.yml"
    first = room.mismatches[0]
    assert (first.kind, first.step, first.turn) == ("action", 4, 2)
    assert (first.expected, first.predicted) == ("utter_mibg_visitors", "utter_mibg_room")
    assert first.user_message == "why does he have to be in a special room"
    fever = by_name["wrong intent expected for a fever"].mismatches[0]
    assert (fever.kind, fever.expected, fever.predicted) == ("intent", "distress", "fever")
    assert fever.user_message == "she has a fever of 101 right now"
    entity = by_name["entity not marked in the story"].mismatches[0]
    assert entity.kind == "entities"
    assert entity.predicted == "what is [irinotecan](therapy)"


def test_summary_counts_and_lists_failures(tmp_path):
    for name in (story_report.FAILED_FILE, story_report.PASSED_FILE):
        shutil.copy(FIXTURE / name, tmp_path / name)
    (tmp_path / "story_confusion_matrix.png").write_bytes(b"")
    run = story_report.write_summary(tmp_path, ROOT)
    summary = (tmp_path / story_report.SUMMARY_FILE).read_text()
    assert (len(run.passed), len(run.failed)) == (1, 3)
    assert "3 stories FAILED. Passed: 1. Failed: 3. Total: 4." in summary
    assert "### wrong answer expected for the MIBG room" in summary
    assert (
        'Step 4 (turn 2, after the parent wrote "why does he have to be in a special room"): '
        "expected `utter_mibg_visitors`, but the assistant did `utter_mibg_room`."
    ) in summary
    assert "`story_confusion_matrix.png` (image)" in summary


def test_story_report_command_fails_when_a_story_failed(tmp_path, capsys):
    shutil.copy(FIXTURE / story_report.FAILED_FILE, tmp_path / story_report.FAILED_FILE)
    assert main(["story-report", str(tmp_path)]) == 1
    assert "FAILED wrong intent expected for a fever" in capsys.readouterr().out


def test_all_good_run_passes(tmp_path):
    (tmp_path / story_report.FAILED_FILE).write_text(
        "# None of the test stories failed - all good!"
    )
    shutil.copy(FIXTURE / story_report.PASSED_FILE, tmp_path / story_report.PASSED_FILE)
    assert main(["story-report", str(tmp_path)]) == 0
    assert "All stories passed. Passed: 1. Failed: 0." in (tmp_path / "summary.md").read_text()


def test_exported_conversation_passes_as_a_story_test(conversation, assistant, tmp_path):
    conversation.ask("what is mibg therapy")
    conversation.ask("can someone call me back")
    conversation.ask("/contact_existing_patient")
    conversation.ask("i am his father")
    conversation.ask("he has a fever and chills")
    conversation.ask("never mind")
    story = tmp_path / "test_exported.yml"
    code = main(
        [
            "story",
            "export",
            conversation.sender,
            "--db",
            str(assistant.tracker_db),
            "--out",
            str(story),
        ]
    )
    assert code == 0
    text = story.read_text()
    assert "action_session_start" not in text and "action_listen" not in text
    assert "- action: utter_fever" in text and "- active_loop: callback_form" in text
    assert "i am his father" in text
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.runtime.rasa_fixes",
            "test",
            "core",
            "--model",
            str(paths.MODEL),
            "--stories",
            str(story),
            "--e2e",
            "--fail-on-prediction-errors",
            "--out",
            str(tmp_path / "out"),
        ],
        cwd=ROOT,
        env=server_env(RunSettings()),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, text + (result.stdout + result.stderr)[-3000:]
    assert (
        "None of the test stories failed"
        in (tmp_path / "out" / "failed_test_stories.yml").read_text()
    )


def test_export_of_unknown_conversation_is_refused(assistant, capsys):
    assert main(["story", "export", "nobody-here", "--db", str(assistant.tracker_db)]) == 1
    assert "no conversation 'nobody-here'" in capsys.readouterr().err


def test_export_without_database_is_refused(tmp_path):
    try:
        story_export.export_story("x", Path(tmp_path / "missing.db"))
    except story_export.ExportError as error:
        assert "no tracker store" in str(error)
    else:
        raise AssertionError("expected ExportError")


def test_content_report_covers_every_response_with_channels_and_triggers(domain, tmp_path):
    out = tmp_path / "content.md"
    assert main(["content-report", str(out)]) == 0
    report = out.read_text()
    for name in domain["responses"]:
        assert f"## `{name}`" in report
    assert "{phone_" not in report  # center details are filled in
    section = report.split("## `utter_fever`")[1].split("\n## ")[0]
    assert "intent `fever`" in section and "**SMS**" in section and "**Sources:**" in section
    assert "the callback_form asks for `phone`" in report
    assert "sent by the action server (actions/callback.py)" in report
    assert "sent by the Rasa server (bot/runtime/session_start.py)" in report


def test_make_chat_names_a_story_file_rasa_reads():
    hint = export_hint("chat-1a2b3c4d")
    command = hint.splitlines()[-1].split()
    assert command[1:6] == ["-m", "bot", "story", "export", "chat-1a2b3c4d"]
    assert Path(command[0]).name.startswith("python")
    out = Path(command[command.index("--out") + 1])
    assert out.parent == Path("tests/stories")
    assert out.name.startswith("test_") and out.suffix == ".yml"


@pytest.mark.parametrize(
    ("out", "reason"),
    [
        ("tests/stories/my_story.yml", "name the file test_<something>.yml"),
        ("tests/stories/test_story.txt", "name the file test_<something>.yml"),
    ],
)
def test_export_refuses_a_file_the_story_tests_would_never_read(
    conversation, assistant, capsys, out, reason
):
    conversation.ask("hello")
    args = ["story", "export", conversation.sender, "--db", str(assistant.tracker_db)]
    assert main([*args, "--out", out]) == 2
    assert reason in capsys.readouterr().err
    assert not Path(out).exists()


def test_export_outside_the_story_folder_says_where_the_tests_look(
    conversation, assistant, capsys, tmp_path
):
    conversation.ask("hello")
    out = tmp_path / "test_hello.yml"
    args = ["story", "export", conversation.sender, "--db", str(assistant.tracker_db)]
    assert main([*args, "--out", str(out)]) == 0
    assert "outside tests/stories/" in capsys.readouterr().err and out.exists()


def test_a_misread_message_is_replayed_to_say_what_the_family_really_got(trained_model, tmp_path):
    for name in (story_report.FAILED_FILE, story_report.PASSED_FILE):
        shutil.copy(FIXTURE / name, tmp_path / name)
    run = story_report.write_summary(tmp_path, ROOT, replay=True)
    summary = (tmp_path / story_report.SUMMARY_FILE).read_text()
    fever = next(story for story in run.failed if story.name == "wrong intent expected for a fever")
    assert fever.turns == ["she has a fever of 101 right now"]
    assert len(fever.replies) == 1 and fever.replies[0]
    assert "scored as if it had been read right" in summary
    got = next(line for line in summary.splitlines() if "In a real conversation" in line)
    assert "“A fever or chills in a child on cancer treatment is urgent" in got
    # Only stories with a misread message are replayed: the wrong-answer story is not.
    room = next(story for story in run.failed if story.name.startswith("wrong answer"))
    assert room.replies == []


def test_nlu_fallback_is_explained_in_words():
    mismatch = story_report.Mismatch(3, "intent", "ask_mibg", "nlu_fallback", "mibg??", 2)
    assert "it was unsure what the message meant" in story_report._describe(mismatch)


def test_story_turns_send_buttons_as_their_payloads(tmp_path):
    stories = tmp_path / "test_x.yml"
    stories.write_text(
        'version: "3.1"\nstories:\n- story: s\n  steps:\n  - user: |\n      hello\n'
        "    intent: greet\n  - action: utter_greet\n  - intent: affirm\n"
    )
    assert story_replay.story_turns(stories) == {"s": ["hello", "/affirm"]}
