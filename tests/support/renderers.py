"""A page renderer beside the test, as the app's lifespan starts one: the real `renderer.mjs`
over a real build, or `fake_renderer.mjs` for the ways a renderer can fail."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from reflex_logto.reflex.rendering import PageRenderer, get_renderer, rendering, server_build

FAKE_RENDERER = Path(__file__).with_name("fake_renderer.mjs")


def set_mode(web_dir: Path, mode: str) -> None:
    """How the fake renderer answers from now on: page, fail, slow, exit (mute: at start)."""
    (web_dir / "mode").write_text(mode)


@contextlib.asynccontextmanager
async def fake_renderer(web_dir: Path, mode: str = "page") -> AsyncIterator[PageRenderer]:
    """This process's renderer, the fake one, started (or given up on, for "mute")."""
    server_build(web_dir).parent.mkdir(parents=True, exist_ok=True)
    server_build(web_dir).touch()
    set_mode(web_dir, mode)
    async with rendering(web_dir, shutil.which("node"), FAKE_RENDERER):
        renderer = get_renderer()
        assert renderer is not None
        await renderer.started()
        yield renderer
