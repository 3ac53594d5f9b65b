"""The real app in its own process, for tests that SIGKILL it: ``python -m … URL DIR PORT``."""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web

from server.app import create_app
from tests.conftest import make_settings


def main() -> None:
    url, data_dir, port = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    web.run_app(
        create_app(make_settings(url, data_dir)),
        host="127.0.0.1",
        port=port,
        print=None,
        handle_signals=True,
    )


if __name__ == "__main__":
    main()
