"""Many reviewers at once: N concurrent browser sessions against one app server (issue 4, item 4).

Each session (a fresh Chromium context) opens the Debug page, clicks Generate, clicks output
segments (salience: model work) and moves the Intensity slider (no model work) for a bounded
number of rounds. A serial run of one session first gives the reference: greedy output and scores
must be identical under load. Prints completed sessions, errors and latency percentiles.

    .venv/bin/python bench/load_sessions.py [--sessions 4] [--rounds 3] [--url URL]

Without --url it starts its own server (`STUDIO_MODEL=tiny`) on 127.0.0.1; the browser aborts
every request to another host. Uses Debian's /usr/bin/chromium (never `playwright install`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser import pageops as ops  # noqa: E402  (the tests' page contract, reused)
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, LOCAL_HOSTS, AppServer  # noqa: E402

STEP_TIMEOUT_S = 120.0  # hang guard per step (a lost click shows as an error), not a target
PARAMS = "g=words"


@dataclass
class SessionResult:
    name: str
    completed: bool = False
    errors: list[str] = field(default_factory=list)
    # kind -> latencies in seconds: "generate", "salience" (model work), "slider" (no model)
    latency: dict[str, list[float]] = field(default_factory=dict)
    # what the session saw: output texts and, per clicked segment, the overlay's scores
    outputs: list[list[str]] = field(default_factory=list)
    scores: dict[int, list[str]] = field(default_factory=dict)

    def add(self, kind: str, seconds: float) -> None:
        self.latency.setdefault(kind, []).append(seconds)


async def _until(read, ok, what: str, timeout_s: float = STEP_TIMEOUT_S):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout_s
    value = await read()
    while not ok(value):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
        value = await read()
    return value


async def _block_outside_hosts(context) -> None:  # noqa: ANN001
    async def handle(route) -> None:  # noqa: ANN001
        parts = urlsplit(route.request.url)
        if parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            await route.abort()

    await context.route("**/*", handle)


async def run_session(browser, url: str, name: str, rounds: int) -> SessionResult:  # noqa: ANN001
    result = SessionResult(name)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await _block_outside_hosts(context)
    page = await context.new_page()

    async def segs() -> list[dict[str, Any]]:
        return await page.locator(ops.SEGMENT).evaluate_all(ops._READ_SEGMENTS_JS)

    async def overlay() -> list[dict[str, Any]]:
        return await page.locator(ops.OVERLAY).evaluate_all(ops._READ_OVERLAY_JS)

    async def tracebacks() -> int:
        return await page.locator("[data-testid='stException']").count()

    try:
        await page.goto(f"{url}/?{PARAMS}")
        for r in range(rounds):
            # Model work 1: generation (greedy). A new generation clears the selection, which
            # tells it apart from the previous round's (identical) output still on screen.
            t0 = time.perf_counter()
            button = page.get_by_role("button", name="Generate", exact=True)
            await _until(button.count, lambda n: n == 1, "exactly one Generate button")
            await button.click(timeout=STEP_TIMEOUT_S * 1000)
            out = await _until(
                segs,
                lambda s: len(s) >= 2 and not any(x["selected"] for x in s),
                "output segments of a new generation",
            )
            result.add("generate", time.perf_counter() - t0)
            result.outputs.append([s["text"] for s in out])

            # Model work 2: salience of the first and the last output segment.
            for idx in (out[0]["index"], out[-1]["index"]):
                t0 = time.perf_counter()
                await page.locator(f"{ops.SEGMENT}[data-segment-index='{idx}']").first.click()
                spans = await _until(
                    overlay,
                    lambda v, i=idx: bool(v) and ops.overlay_marks(v) == {str(i)},
                    f"overlay for segment {idx}",
                )
                result.add("salience", time.perf_counter() - t0)
                salience = [s["salience"] for s in spans]
                previous = result.scores.setdefault(idx, salience)
                if previous != salience:
                    result.errors.append(f"round {r}: scores of segment {idx} changed")

            # No model work: the intensity slider recolours the same scores.
            colours = [s["background"] for s in await overlay()]
            slider = page.get_by_role("slider").first
            await slider.focus()
            t0 = time.perf_counter()
            await page.keyboard.press("ArrowRight" if r % 2 == 0 else "ArrowLeft")
            await _until(
                overlay,
                lambda v, c=colours: bool(v) and [s["background"] for s in v] != c,
                "recoloured overlay after moving the slider",
            )
            result.add("slider", time.perf_counter() - t0)
            if await tracebacks():
                result.errors.append(f"round {r}: the page shows a traceback")
        result.completed = True
    except Exception as e:  # noqa: BLE001 - a benchmark reports failures, it does not stop
        state = ""
        try:  # what the page showed when it went wrong
            shown = [x["index"] for x in await segs() if x["selected"]]
            marks = sorted(ops.overlay_marks(await overlay()))
            state = f" [selected {shown}, overlay target {marks}, url {urlsplit(page.url).query}]"
        except Exception:  # noqa: BLE001
            pass
        result.errors.append(f"{type(e).__name__}: {str(e).splitlines()[0][:200]}{state}")
    finally:
        await context.close()
    return result


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _compare(reference: SessionResult, other: SessionResult) -> list[str]:
    """Greedy output and scores under load must equal the serial run's, exactly."""
    problems = []
    for r, out in enumerate(other.outputs):
        if reference.outputs and out != reference.outputs[0]:
            problems.append(f"round {r}: output differs from the serial run")
    for idx, scores in other.scores.items():
        ref = reference.scores.get(idx)
        if ref is not None and scores != ref:
            diff = max(
                (abs(float(a) - float(b)) for a, b in zip(scores, ref, strict=False)),
                default=float("nan"),
            )
            problems.append(
                f"segment {idx}: scores differ from the serial run (max |d|={diff:.3g})"
            )
    return problems


def report(
    sessions: int, rounds: int, serial: SessionResult, results: list[SessionResult], wall_s: float
) -> str:
    errors = [f"{r.name}: {e}" for r in [serial, *results] for e in r.errors]
    lines = [
        f"sessions: {sessions}   rounds each: {rounds}   wall: {wall_s:.1f} s",
        f"completed sessions: {sum(r.completed for r in results)}/{sessions}   "
        f"errors: {len(errors)}",
        "",
        f"| {'work':<40} | {'n':>3} | {'p50 s':>7} | {'p90 s':>7} | {'p99 s':>7} | {'max s':>7} |",
        f"|{'-' * 42}|{'-' * 5}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|",
    ]
    kinds = [
        ("generate", "generate (model)"),
        ("salience", "salience click (model)"),
        ("slider", "intensity slider (no model)"),
    ]
    for label, runs in (("alone", [serial]), (f"{sessions} at once", results)):
        for kind, name in kinds:
            values = [v for r in runs for v in r.latency.get(kind, [])]
            if not values:
                continue
            row = f"{name}, {label}"
            lines.append(
                f"| {row:<40} | {len(values):>3} | {statistics.median(values):>7.2f} | "
                f"{_pct(values, 90):>7.2f} | {_pct(values, 99):>7.2f} | {max(values):>7.2f} |"
            )
    lines.append("('alone' includes the first calls: model load and compiles.)")
    if errors:
        lines += ["", "errors:"] + [f"  {e}" for e in errors[:40]]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace, url: str) -> int:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            print("serial reference run (one session alone) ...", flush=True)
            serial = await run_session(browser, url, "serial", rounds=args.rounds)
            if not serial.completed:
                # Keep going: the load figures are still worth having; the errors are reported.
                print(f"the serial run failed: {serial.errors}", file=sys.stderr)
            print(f"{args.sessions} concurrent sessions x {args.rounds} rounds ...", flush=True)
            t0 = time.perf_counter()
            results = await asyncio.gather(
                *(run_session(browser, url, f"s{i}", args.rounds) for i in range(args.sessions))
            )
            wall = time.perf_counter() - t0
        finally:
            await browser.close()
    for r in results:
        r.errors.extend(_compare(serial, r))
    print(report(args.sessions, args.rounds, serial, list(results), wall))
    ok = serial.completed and not serial.errors
    return 0 if ok and all(r.completed and not r.errors for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4, choices=range(1, 17), metavar="1..16")
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, 21), metavar="1..20")
    parser.add_argument("--url", help="an already running server on 127.0.0.1 (default: start one)")
    parser.add_argument("--model", default="tiny", help="STUDIO_MODEL of the server it starts")
    args = parser.parse_args(argv)
    if not os.access(CHROMIUM, os.X_OK):
        print(f"{CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 2
    if args.url:
        if urlsplit(args.url).hostname not in LOCAL_HOSTS:
            print(
                "--url must point at 127.0.0.1 (this benchmark never leaves the machine)",
                file=sys.stderr,
            )
            return 2
        return asyncio.run(main_async(args, args.url.rstrip("/")))
    server = AppServer(
        app="app.py", env={"STUDIO_MODEL": args.model, "STUDIO_ALLOWED_MODELS": args.model}
    )
    print(f"starting the app server (STUDIO_MODEL={args.model}) ...", flush=True)
    server.start()
    try:
        return asyncio.run(main_async(args, server.url))
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
