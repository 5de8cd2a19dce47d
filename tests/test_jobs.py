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


def test_duty_cycle_rests_a_busy_owner_only_while_others_use_the_worker():
    from lib.jobs import DutyCycle

    duty = DutyCycle(share=0.5, window_s=30.0)
    queue = JobQueue()
    a1, a2 = _add(queue, "a"), _add(queue, "a")
    duty.touch("a", now=0.0)
    assert duty.pick(queue, now=0.0) == (a1, 0.0)
    duty.finished("a", computed_s=10.0, now=10.0)
    # Alone on the server: no rest (nobody else to leave room for).
    assert duty.resting(now=11.0) == {}
    assert duty.pick(queue, now=11.0) == (a2, 0.0)
    duty.finished("a", computed_s=10.0, now=21.0)
    # Someone else asks: a rests as long as it computed (half the time), b goes first.
    a3 = _add(queue, "a")
    b1 = _add(queue, "b")
    duty.touch("b", now=22.0)
    assert duty.resting(now=22.0) == {"a": 31.0}
    assert duty.pick(queue, now=22.0) == (b1, 0.0)
    job, wait = duty.pick(queue, now=22.0)  # only a's job left: wait for the rest to end
    assert job is None and wait == pytest.approx(9.0)
    assert duty.pick(queue, now=31.0) == (a3, 0.0)
    # Once b has been quiet for the window, a is alone again and does not rest.
    duty.finished("a", computed_s=5.0, now=40.0)
    assert duty.resting(now=41.0) == {"a": 45.0}
    assert duty.resting(now=44.9) == {"a": 45.0}
    duty.forget("b")
    assert duty.resting(now=41.0) == {}


def test_duty_cycle_validates_its_settings():
    from lib.jobs import DutyCycle

    with pytest.raises(ValueError, match="share"):
        DutyCycle(share=0.0)
    with pytest.raises(ValueError, match="window_s"):
        DutyCycle(window_s=-1.0)
