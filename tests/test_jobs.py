"""The worker's queue and its fairness rules as plain data (no threads): `lib.jobs`."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from lib.jobs import (
    LIGHT_NEW_TOKENS,
    LIGHT_PROMPT_CHARS,
    PRIORITY_PREFETCH,
    PRIORITY_USER,
    JobQueue,
    ModelTime,
    light_generation,
)


def _add(queue: JobQueue, owner: str, *, short: bool = False, light: bool = False,
         priority: int = PRIORITY_USER):
    return queue.add(priority, lambda m: None, Future(), owner, None, short, light)


def test_model_time_adds_up_and_halves_every_half_life():
    used = ModelTime(half_life_s=10.0)
    assert used.used("a", now=0.0) == 0.0
    used.charge("a", 4.0, now=0.0)
    used.charge("a", 2.0, now=0.0)
    assert used.used("a", now=0.0) == pytest.approx(6.0)
    assert used.used("a", now=10.0) == pytest.approx(3.0)
    assert used.used("a", now=20.0) == pytest.approx(1.5)
    used.charge("a", 1.0, now=10.0)  # 3 left of the 6, plus 1
    assert used.used("a", now=10.0) == pytest.approx(4.0)
    assert used.used("b", now=10.0) == 0.0
    used.charge("b", -5.0, now=10.0)  # a clock step back charges nothing
    assert used.used("b", now=10.0) == 0.0
    used.forget("a")
    assert used.used("a", now=10.0) == 0.0


def test_model_time_rejects_a_half_life_that_is_not_positive():
    with pytest.raises(ValueError, match="half_life_s"):
        ModelTime(half_life_s=0)


def test_between_pieces_clicks_always_go_light_jobs_only_when_allowed():
    queue = JobQueue()
    light = _add(queue, "b", light=True)
    plain = _add(queue, "c")
    click = _add(queue, "d", short=True)
    busy = {"a"}
    # Not allowed: the light job stays queued, the plain one never goes inline; the click goes.
    assert queue.next_inline_job(busy, lambda owner: False) is click
    assert queue.next_inline_job(busy, lambda owner: False) is None
    # Allowed for b (its owner used the model less lately than the running job's owner).
    assert queue.next_inline_job(busy, lambda owner: owner == "b") is light
    assert queue.next_inline_job(busy, lambda owner: True) is None
    assert queue.service_order() == [plain]


def test_between_pieces_skips_busy_owners_and_prefetch():
    queue = JobQueue()
    _add(queue, "a", short=True)
    _add(queue, "b", light=True, priority=PRIORITY_PREFETCH)
    assert queue.next_inline_job({"a"}, lambda owner: True) is None


def test_light_generation_means_a_short_prompt_and_few_new_tokens():
    assert light_generation("x" * LIGHT_PROMPT_CHARS, LIGHT_NEW_TOKENS)
    assert not light_generation("x" * (LIGHT_PROMPT_CHARS + 1), 8)
    assert not light_generation("short", LIGHT_NEW_TOKENS + 1)
