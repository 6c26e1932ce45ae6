"""The benchmark's pure parts: the profile report and the results table."""

from __future__ import annotations

from bench.profile import report, shares
from bench.run import table

COLLAPSED = """\
main (rasa/__main__.py:10);handle (core/processor.py:5);save (core/tracker_store.py:7) 6
main (rasa/__main__.py:10);handle (core/processor.py:5);parse (nlu/model.py:3) 3
main (rasa/__main__.py:10);handle (core/processor.py:6);handle (core/processor.py:9) 1
"""


def test_shares_count_a_recursive_function_once_per_sample() -> None:
    total, inclusive, own = shares(COLLAPSED)
    assert total == 10
    assert inclusive["handle (core/processor.py)"] == 10
    assert inclusive["save (core/tracker_store.py)"] == 6
    assert own == {
        "save (core/tracker_store.py)": 6,
        "parse (nlu/model.py)": 3,
        "handle (core/processor.py)": 1,
    }


def test_report_leaves_out_entry_points_in_every_sample() -> None:
    text = report(COLLAPSED, top=5)
    inclusive = text.split("own share")[0]
    assert "60.0%  save (core/tracker_store.py)" in inclusive
    assert "main (rasa/__main__.py)" not in inclusive


def test_table_gives_ratios_to_the_baseline() -> None:
    results = {
        "rasa-default": {"cv_macro_f1": 0.9, "p95_ms": 100.0},
        "config.yml": {"cv_macro_f1": 0.81, "p95_ms": 50.0},
    }
    text = table(results, "rasa-default")
    assert "| CV macro F1 | 0.900 | 0.810 (0.90x) |" in text
    assert "| p95 at 10 msg/s (ms) | 100 | 50 (0.50x) |" in text
    assert "| full training (s) | n/a | n/a |" in text
