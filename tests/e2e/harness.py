"""Browser-side helpers for the end-to-end tests: Chromium launch flags, participant pages,
polling the client's test-mode state (window.__telessaude) and checking remote video.

Shared by tests/e2e and bench/browser_join.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from playwright.async_api import Browser, BrowserContext, Page, Playwright

CHROMIUM = "/usr/lib/chromium/chromium"
BASE_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    # Only the last --disable-features counts: every disabled feature goes in this one.
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
FAKE_UI = "--use-fake-ui-for-media-stream"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

T = TypeVar("T")


async def launch(pw: Playwright, *, fake_ui: bool = True) -> Browser:
    """Debian's Chromium with the fake camera; without fake_ui, permissions decide access."""
    args = [*BASE_FLAGS, FAKE_UI] if fake_ui else list(BASE_FLAGS)
    return await pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)


@dataclass
class Person:
    """One participant: their own browser context (own storage, own camera) and page."""

    name: str
    context: BrowserContext
    page: Page
    console: list[str]

    async def state(self) -> dict[str, Any]:
        value: dict[str, Any] = await self.page.evaluate(
            "() => JSON.parse(JSON.stringify(window.__telessaude ?? {}))"
        )
        return value


async def new_person(
    browser: Browser,
    base_url: str,
    name: str,
    *,
    viewport: dict[str, int] | None = None,
    permissions: list[str] | None = None,
    is_mobile: bool = False,
) -> Person:
    context = await browser.new_context(
        base_url=base_url,
        viewport=viewport or DESKTOP,  # type: ignore[arg-type]
        locale="pt-BR",
        timezone_id="America/Sao_Paulo",
        is_mobile=is_mobile,
        has_touch=is_mobile,
        permissions=["camera", "microphone"] if permissions is None else permissions,
    )
    # Test mode on from the first script: the app exposes its state on window.__telessaude.
    await context.add_init_script("localStorage.setItem('telessaudeTest', '1')")
    page = await context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    return Person(name=name, context=context, page=page, console=console)


async def poll(
    what: str,
    probe: Callable[[], Awaitable[T]],
    ok: Callable[[T], bool],
    *,
    within: float = 20.0,
    interval: float = 0.2,
) -> T:
    """Probe until ok(value) or fail with the last value seen; never a blind sleep."""
    deadline = time.monotonic() + within
    value = await probe()
    while not ok(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(interval)
        value = await probe()
    return value


async def wait_state(
    person: Person, what: str, ok: Callable[[dict[str, Any]], object], **kw: Any
) -> dict[str, Any]:
    return await poll(f"{person.name}: {what}", person.state, lambda s: bool(ok(s)), **kw)


_INBOUND_JS = """
async () => {
  const t = window.__telessaude;
  if (!t || !t.sampleStats) return [];
  return await t.sampleStats();
}
"""

_FRAME_JS = """
(sel) => {
  const v = document.querySelector(sel);
  if (!v || !v.videoWidth) return null;
  const c = document.createElement('canvas');
  c.width = 64; c.height = 48;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0, 64, 48);
  const d = g.getImageData(0, 0, 64, 48).data;
  let sum = 0, hash = 0;
  for (let i = 0; i < d.length; i += 4) {
    const px = d[i] + d[i + 1] + d[i + 2];
    sum += px;
    hash = (hash * 31 + px) >>> 0;
  }
  return {width: v.videoWidth, height: v.videoHeight, mean: sum / (d.length / 4) / 3, hash};
}
"""


async def inbound(person: Person) -> list[dict[str, Any]]:
    stats: list[dict[str, Any]] = await person.page.evaluate(_INBOUND_JS)
    return stats


async def frames_decoded(person: Person, publisher_id: str, source: str = "camera") -> int:
    for s in await inbound(person):
        if s["participantId"] == publisher_id and s["source"] == source and s["kind"] == "video":
            return int(s["framesDecoded"])
    return -1


async def assert_video_flows(
    viewer: Person,
    publisher_id: str,
    source: str = "camera",
    within: float = 25.0,
    *,
    moving: bool = True,
) -> None:
    """The viewer decodes the publisher's video, and it is neither black nor (if moving) frozen."""
    first = await poll(
        f"{viewer.name} decoding {publisher_id} {source}",
        lambda: frames_decoded(viewer, publisher_id, source),
        lambda n: n > 0,
        within=within,
    )
    await poll(
        f"{viewer.name}: framesDecoded of {publisher_id} {source} rising past {first}",
        lambda: frames_decoded(viewer, publisher_id, source),
        lambda n: n > first,
        within=10,
    )
    sel = f'video[data-participant-id="{publisher_id}"][data-source="{source}"]'
    frame1 = await poll(
        f"{viewer.name}: {sel} has a size",
        lambda: viewer.page.evaluate(_FRAME_JS, sel),
        lambda f: bool(f) and f["width"] > 0,
        within=10,
    )
    # The fake camera draws a moving pattern on a bright background: not black, and it changes.
    assert frame1["mean"] > 8, f"{viewer.name} sees black video from {publisher_id}: {frame1}"
    if not moving:
        return
    await poll(
        f"{viewer.name}: {sel} picture changes (not frozen)",
        lambda: viewer.page.evaluate(_FRAME_JS, sel),
        lambda f: bool(f) and f["hash"] != frame1["hash"],
        within=10,
    )


async def audio_packets(viewer: Person, publisher_id: str) -> int:
    for s in await inbound(viewer):
        if s["participantId"] == publisher_id and s["kind"] == "audio":
            return int(s["packetsReceived"])
    return -1


async def assert_audio_flows(viewer: Person, publisher_id: str, within: float = 25.0) -> None:
    first = await poll(
        f"{viewer.name} receiving audio of {publisher_id}",
        lambda: audio_packets(viewer, publisher_id),
        lambda n: n > 0,
        within=within,
    )
    await poll(
        f"{viewer.name}: audio packets of {publisher_id} rising",
        lambda: audio_packets(viewer, publisher_id),
        lambda n: n > first,
        within=10,
    )


SCREENSHOTS_ENV = "TELESSAUDE_SCREENSHOTS"


async def snap(person: Person, name: str) -> None:
    """Save a screenshot for the docs when TELESSAUDE_SCREENSHOTS names a directory."""
    import os

    target = os.environ.get(SCREENSHOTS_ENV)
    if target:
        os.makedirs(target, exist_ok=True)
        await person.page.screenshot(path=os.path.join(target, f"{name}.png"))
