"""End-to-end: the README's main command as a subprocess, used over HTTP and the CLI only.

`dev` is session-scoped: one `uv run python -m service dev --port <free>` with its own
CONCORD_HOME for the whole run, stopped with Ctrl-C (SIGINT) at the end, which must exit
0 within 30 s and leave no PostgreSQL, Redis, API or worker process behind."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from tests.e2e.devserver import DevServer, start_dev


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    root = tmp_path_factory.mktemp("e2e-dev")
    server = start_dev(root / "home", logs=root)
    try:
        yield server
    finally:
        problems = server.stop()
        if "Traceback" in server.stderr():
            warnings.warn(
                f"`service dev` wrote a traceback to stderr (see {server.stderr_path})",
                stacklevel=1,
            )
        assert not problems, "\n".join(problems) + "\n" + server.output_tail()
