"""The hostile session of the load benchmark (issue 12, `bench/load_sessions.py --hostile`).

One browser context (one owner cookie) that, until the normal sessions finish, repeats:

(a) regex bomb: the "Custom regex" granularity with `(a+)+$` on an 'aaa…b' prompt
    (catastrophic backtracking: the segmenter's match timeout must stop it), then a compile
    bomb from tests/hostile_corpus.py (lib/pattern_guard.py must refuse it before compiling);
(b) giant fields: a prompt pasted at, then over, the prompt character limit, and a typed target
    over the target limit (lib/input_limits.py), each followed by Generate;
(c) job flood: Generate and segment clicks in quick succession, in its main tab and in extra
    tabs of the same context (same owner: the per-owner queue cap of lib/worker.py applies);
(d) share flood: Share after each slider step (each a distinct record, so no save is
    de-duplicated) until the per-owner saves-a-minute quota (lib/run_quotas.py) refuses.

It counts its actions and records what the app answered: each distinct message shown (errors
and warnings should be clear sentences) and every traceback (there should be none). A step of
its own that times out is a finding, recorded with the step's name; it never stops the run.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.async_page import click_button, new_context, tracebacks, until
from lib.input_limits import MAX_PROMPT_CHARS, MAX_TARGET_CHARS
from lib.run_quotas import DEFAULT_SAVES_PER_MINUTE
from lib.worker import MAX_QUEUED_USER_JOBS
from tests.browser import pageops as ops
from tests.hostile_corpus import REGEX_COMPILE_BOMBS, corpus_text

BACKTRACKING = "(a+)+$"
# The final 'b' makes every (a+)+$ attempt fail: backtracking tries ~2^64 splits of the a's, so
# only the segmenter's match timeout ends it (a longer run of a's would only slow the
# hostile's own generation, which the worker's fairness then puts behind everyone else's).
BOMB_PROMPT = "a" * 64 + "b"
NORMAL_PROMPT = "Write one sentence about rivers."  # for the flood and share steps' views
FLOOD_TABS = MAX_QUEUED_USER_JOBS + 2  # one running + the cap queued + one refused
FLOOD_CLICKS = 8
# Past the saves-a-minute quota (each share is a distinct record, see `_share_flood`).
MAX_SHARES = DEFAULT_SAVES_PER_MINUTE + 5
ANSWER_WAIT_S = 60.0  # how long a step waits for the app's answer before calling it a hang
ALERTS = "[data-testid='stAlertContentError'], [data-testid='stAlertContentWarning']"
PATTERN_LABEL = "Pattern (each match is a segment)"
TARGET_LABEL = "Target text (e.g. ' Avoid.')"


class _Stop(Exception):
    """The normal sessions are done: the hostile one stops between two steps."""


@dataclass
class HostileResult:
    actions: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)  # message -> times seen after a step
    traceback_texts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the fields held, hangs, own failures
    slowest: dict[str, float] = field(default_factory=dict)  # step -> longest wait for answer
    cycles: int = 0

    def summary(self) -> str:
        lines = [f"hostile session: {self.cycles} cycle(s); actions: "
                 + ", ".join(f"{k} {v}" for k, v in sorted(self.actions.items()))]
        lines.append(f"  tracebacks shown: {len(self.traceback_texts)}")
        for text in self.traceback_texts[:5]:
            lines.append(f"    {text}")
        lines.append(f"  distinct messages shown: {len(self.answers)}")
        for message, n in self.answers.most_common(20):
            lines.append(f"    [{n}x] {message}")
        for step, seconds in self.slowest.items():
            lines.append(f"  slowest answer: {step}: {seconds:.1f} s")
        for note in dict.fromkeys(self.notes):  # each once, in order
            lines.append(f"  note: {note}")
        return "\n".join(lines)


async def _alerts(page: Any) -> list[str]:
    return await page.locator(ALERTS).all_inner_texts()


async def _click_segment(page: Any, index: int, **kwargs: Any) -> None:
    # pageops.click_segment drops the click's result: with an async page, it must be awaited.
    await page.locator(f"{ops.SEGMENT}[data-segment-index='{index}']").first.click(**kwargs)


class _Hostile:
    def __init__(self, context: Any, url: str, stop: asyncio.Event) -> None:
        self.context, self.url, self.stop = context, url, stop
        self.result = HostileResult()
        self.page: Any = None
        self.tabs: list[Any] = []
        self.ready = asyncio.Event()

    # ---- plumbing --------------------------------------------------------------------------
    def check(self) -> None:
        if self.stop.is_set():
            raise _Stop

    def act(self, name: str, n: int = 1) -> None:
        self.check()
        self.result.actions[name] += n

    async def record(self, page: Any) -> None:
        """Note every message the page shows now, and any traceback."""
        try:
            for text in await _alerts(page):
                self.result.answers[" ".join(text.split())[:220]] += 1
            if await tracebacks(page):
                text = await page.locator("[data-testid='stException']").first.inner_text()
                self.result.traceback_texts.append(" ".join(text.split())[:300])
        except Exception as e:  # noqa: BLE001 - a page mid-rerun (or closed) is read next time
            self.failed("reading the page", e)

    async def wait(self, read, ok, what: str) -> Any:  # noqa: ANN001
        """`until`, but a stop ends it at once and a hang becomes a note, not an exception."""
        try:
            return await until(read, lambda v: self.stop.is_set() or ok(v), what, ANSWER_WAIT_S)
        except TimeoutError:
            self.result.notes.append(f"no answer within {ANSWER_WAIT_S:.0f} s: {what}")
            return None
        finally:
            self.check()

    async def answer_or(self, page: Any, ok, what: str,  # noqa: ANN001
                        before: list[str] | None = None) -> None:
        """Wait until the page shows an error/warning (other than `before`, the ones shown
        before the step) or `ok(segments)`, then record it."""

        async def read() -> tuple[list[str], list[dict[str, Any]]]:
            return await _alerts(page), await ops.segments(page)

        await self.wait(read, lambda v: (bool(v[0]) and v[0] != before) or ok(v[1]), what)
        await self.record(page)

    async def choose(self, page: Any, option: str, then: Any) -> None:
        """Click a radio option until what it reveals is there (an early click can be lost)."""

        async def read() -> int:
            await page.get_by_text(option, exact=True).click()
            await asyncio.sleep(1.0)
            return await then.count()

        await self.wait(read, bool, f"the input behind '{option}'")

    async def set_prompt(self, page: Any, text: str) -> int:
        """Type `text` as the raw prompt; return how many characters the field kept once the
        page has taken it (a rerun that was already on its way can redraw the field with the
        old text: then it is typed again, a few times at most)."""
        box = page.get_by_label("Prompt", exact=True).first
        kept = 0
        for _ in range(3):
            await box.fill(text)
            await box.press("Control+Enter")
            await asyncio.sleep(1.0)
            kept = len(await box.input_value())
            if kept == len(text):
                break
        return kept

    async def generate(self, page: Any, what: str) -> None:
        """Generate and wait for a new output (no selection yet) or for the app's message."""
        self.act("generate")
        await click_button(page, "Generate", ANSWER_WAIT_S)
        await self.answer_or(page, lambda s: bool(s) and not any(x["selected"] for x in s),
                             f"an output or a message after Generate ({what})")

    async def granularity(self, label: str) -> None:
        page = self.page
        await page.get_by_role("combobox", name="Segments").click()
        await page.get_by_role("option", name=label, exact=True).click()
        pattern = page.get_by_label(PATTERN_LABEL)
        want = label == "Custom regex"
        await self.wait(pattern.count, lambda n: bool(n) == want,
                        f"the pattern field {'shown' if want else 'gone'} ({label})")

    # ---- the attacks -----------------------------------------------------------------------
    async def setup(self) -> None:
        for old in [self.page, *self.tabs]:  # a retried setup starts over
            if old is not None:
                await old.close()
        self.page, self.tabs = await self.context.new_page(), []
        await self.page.goto(f"{self.url}/?g=words")
        await self.page.locator("[data-testid='stApp']").wait_for()
        await self.choose(self.page, "Raw prompt", self.page.get_by_label("Prompt", exact=True))
        # Further tabs of the same context share the owner cookie the first one got.
        for _ in range(FLOOD_TABS):
            tab = await self.context.new_page()
            await tab.goto(f"{self.url}/?g=words")
            self.tabs.append(tab)

    async def regex_bomb(self, cycle: int) -> None:
        page = self.page
        await self.set_prompt(page, BOMB_PROMPT)
        await self.generate(page, "the 'aaa…b' prompt")
        await self.granularity("Custom regex")
        box = page.get_by_label(PATTERN_LABEL)
        for pattern in (BACKTRACKING, REGEX_COMPILE_BOMBS[cycle % len(REGEX_COMPILE_BOMBS)]):
            self.act("regex bomb")
            before = await _alerts(page)  # the previous pattern's message may still show
            t0 = time.perf_counter()
            await box.fill(pattern)
            await box.press("Enter")
            await self.answer_or(page, lambda s: False, f"the app's answer to pattern {pattern!r}",
                                 before)
            step = f"pattern {pattern[:40]!r}"
            took = time.perf_counter() - t0
            self.result.slowest[step] = max(took, self.result.slowest.get(step, 0.0))
        await self.granularity("Words")

    async def giant_fields(self, cycle: int) -> None:
        page = self.page
        filler = (corpus_text(long_line=False) + "\n") * (MAX_PROMPT_CHARS // 500 + 2)
        for size in (MAX_PROMPT_CHARS, MAX_PROMPT_CHARS + 1_000):
            self.act("giant prompt")
            kept = await self.set_prompt(page, filler[:size])
            self.result.notes.append(f"a pasted prompt of {size:,} characters: the field kept "
                                     f"{kept:,} (limit {MAX_PROMPT_CHARS:,})")
            await self.generate(page, f"a {size:,}-character prompt")
        await self.set_prompt(page, NORMAL_PROMPT)
        target = page.get_by_label(TARGET_LABEL)
        await self.choose(page, "A target I type", target)
        self.act("giant target")
        size = MAX_TARGET_CHARS + 500
        await target.fill(("target " * (size // 7 + 1))[:size])
        await target.press("Enter")
        kept = len(await target.input_value())
        self.result.notes.append(f"a typed target of {size:,} characters: the field kept "
                                 f"{kept:,} (limit {MAX_TARGET_CHARS:,})")
        await self.generate(page, f"a {size:,}-character target")
        await self.choose(page, "The model's response", page.get_by_role("button", name="Generate"))
        await self.wait(target.count, lambda n: n == 0, "the typed target field gone")

    async def _burst(self, page: Any) -> None:
        """Generate, then segment clicks, in quick succession (no waiting for the answers)."""
        for _ in range(FLOOD_CLICKS):
            self.act("flood generate click")
            try:
                await page.get_by_role("button", name="Generate", exact=True).first.click(
                    timeout=2_000)
            except Exception:  # noqa: BLE001 - a click lost in a rerun is part of the flood
                self.result.actions["flood click lost"] += 1
        segs = await ops.segments(page)
        for seg in segs[:FLOOD_CLICKS]:
            self.act("flood segment click")
            try:
                await _click_segment(page, seg["index"], timeout=2_000)
            except Exception:  # noqa: BLE001
                self.result.actions["flood click lost"] += 1

    async def job_flood(self, cycle: int) -> None:
        await self.set_prompt(self.page, NORMAL_PROMPT)
        pages = [self.page, *self.tabs]
        await asyncio.gather(*(self._burst(p) for p in pages))
        await asyncio.sleep(5.0)  # let the queue answer (refusals, cancellations)
        for p in pages:
            await self.record(p)

    async def share_flood(self, cycle: int) -> None:
        page = self.page
        await self.generate(page, "a view to share")
        segs = await ops.segments(page)
        if not segs:
            self.result.notes.append("share flood skipped: no output to share")
            return
        ends = [segs[0]["index"], segs[-1]["index"]]
        slider = page.get_by_role("slider").first

        async def select(idx: int) -> None:
            self.act("segment click")
            await _click_segment(page, idx)
            await self.wait(lambda: ops.overlay(page),
                            lambda v, i=idx: ops.overlay_marks(v) == {str(i)},
                            f"the overlay of segment {idx}")

        current = ends[0]
        await select(current)
        up, previous = True, ops.RUN_ID.search(await ops.live_url(page))
        previous = previous.group(1) if previous else None
        for _ in range(MAX_SHARES):
            value = float(await slider.get_attribute("aria-valuenow") or 1.0)
            if (up and value >= 3.0) or (not up and value <= 0.2):
                # The way back revisits intensities: another selection keeps records distinct.
                up = not up
                current = ends[1] if current == ends[0] else ends[0]
                await select(current)
            colours = [s["background"] for s in await ops.overlay(page)]
            await slider.focus()
            await page.keyboard.press("ArrowRight" if up else "ArrowLeft")
            # Share's arguments are the view of the last finished run: wait for the recolour.
            await self.wait(lambda: ops.overlay(page),
                            lambda v, c=colours: bool(v) and [s["background"] for s in v] != c,
                            "the recoloured overlay")
            self.act("share")
            await click_button(page, "Share", ANSWER_WAIT_S)

            async def read(prev: str | None = previous) -> tuple[list[str], str | None]:
                match = ops.RUN_ID.search(await ops.live_url(page))
                return await _alerts(page), (match.group(1) if match else prev)

            alerts, run_id = await self.wait(
                read, lambda v, prev=previous: bool(v[0]) or v[1] != prev,
                "a new link or a message after Share") or ([], previous)
            await self.record(page)
            if alerts:
                self.result.actions["share answered with a message"] += 1
                return
            previous = run_id
        self.result.notes.append(f"{MAX_SHARES} shares in a row were all saved")

    def failed(self, step: str, e: Exception) -> None:
        self.result.notes.append(f"{step}: {type(e).__name__}: {str(e).splitlines()[0][:160]}")

    async def run(self) -> None:
        # Pages load slowly on loaded cores: Playwright's waits get the step's bound, not 30 s.
        self.context.set_default_timeout(ANSWER_WAIT_S * 1000)
        while True:
            self.check()
            try:
                await self.setup()
                self.ready.set()
                break
            except _Stop:
                raise
            except Exception as e:  # noqa: BLE001 - retried until the normal sessions end
                self.failed("setup", e)
        # Floods first: the normal sessions' run is short, and each attack should meet it.
        attacks = (self.job_flood, self.giant_fields, self.share_flood, self.regex_bomb)
        while True:
            for attack in attacks:
                self.check()
                try:
                    await attack(self.result.cycles)
                except _Stop:
                    raise
                except Exception as e:  # noqa: BLE001 - the hostile's own trouble is a note
                    self.failed(attack.__name__, e)
                    await self.record(self.page)
            self.result.cycles += 1


async def run_hostile(browser: Any, url: str, stop: asyncio.Event, result: HostileResult,
                      ready: asyncio.Event) -> HostileResult:
    """Attack the server from one context until `stop` is set; `ready` is set once its pages
    are open (the caller starts the normal sessions then, so they meet the attacks, not page
    loads). What it did and saw goes into `result` (the caller's, so it survives a cancel)."""
    context = await new_context(browser)
    hostile = _Hostile(context, url, stop)
    hostile.result, hostile.ready = result, ready
    try:
        await hostile.run()
    except _Stop:
        pass
    finally:
        ready.set()  # never leave the caller waiting
        await context.close()
    return hostile.result

