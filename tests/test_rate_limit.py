"""The channels' per-sender limits (bot/channels/rate_limit.py), on a clock moved by hand."""

from __future__ import annotations

from bot.channels.rate_limit import NotifyOnce, SlidingWindow, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides_and_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = SlidingWindow(limit=2, window=10, clock=clock)
    assert limiter.hit("a") == 0 and limiter.hit("a") == 0
    assert limiter.hit("a") == 10
    assert limiter.hit("b") == 0
    clock.now += 4
    assert limiter.hit("a") == 6
    clock.now += 6  # both first hits have left the window
    assert limiter.hit("a") == 0 and limiter.hit("a") == 0
    assert limiter.hit("a") == 10


def test_quiet_senders_are_forgotten() -> None:
    clock = Clock()
    limiter = SlidingWindow(limit=1, window=60, clock=clock)
    limiter.hit("a")
    clock.now += 120
    limiter.hit("b")
    assert list(limiter._hits) == ["b"]


def test_sms_gets_one_notice_per_window_then_texts_are_allowed_again() -> None:
    clock = Clock()
    limiter = NotifyOnce(limit=2, window=60, clock=clock)
    verdicts = [limiter.check("a") for _ in range(4)]
    assert verdicts == [Verdict.ALLOW, Verdict.ALLOW, Verdict.NOTIFY, Verdict.DROP]
    assert limiter.check("b") is Verdict.ALLOW
    clock.now += 59
    assert limiter.check("a") is Verdict.DROP
    clock.now += 1
    assert limiter.check("a") is Verdict.ALLOW
    assert limiter.check("a") is Verdict.ALLOW
    assert limiter.check("a") is Verdict.NOTIFY
