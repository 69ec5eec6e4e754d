"""Runs a marimo notebook once, as `marimo run` would, and returns its cells' outputs.

The kernel is a thread of this process (run mode); `cli_args` reach the notebook as
`mo.cli_args()`. The outputs come back serialized as `marimo export session` writes
them, in notebook order. This is the only module that uses marimo's private session
API (pinned: marimo <0.26); tests/reports/test_build.py runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from materia.core.errors import MateriaError

RUN_TIMEOUT_S = 900  # a hung cell must not hold the nightly supervisor forever


def _argv(cli_args: dict) -> list[str]:
    """`{"commodity": ["Corn", "Wheat"], "years": 5}` -> the argv marimo would parse."""
    out: list[str] = []
    for key, value in cli_args.items():
        for v in value if isinstance(value, list) else [value]:
            out += [f"--{key}", str(v)]
    return out


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """os.environ with `values` while the notebook runs."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def _run_session(manager, cli_args: dict):  # marimo's AppFileManager -> SessionView
    """Run every cell once, like `marimo run` does: the kernel is a thread of this process.

    marimo's export runner (`marimo._export.file.run_notebook`) is the same code in edit
    mode, whose kernel is a spawned process: a second interpreter that re-imports marimo,
    polars and pyiceberg (measured: about 5 s more per report on this machine).
    """
    from marimo._config.manager import get_default_config_manager
    from marimo._messaging.notification import CompletedRunNotification
    from marimo._messaging.serde import deserialize_kernel_message
    from marimo._runtime.commands import AppMetadata
    from marimo._session.consumer import SessionConsumer
    from marimo._session.model import ConnectionState, SessionMode
    from marimo._session.requests import InstantiateNotebookRequest
    from marimo._session.session import SessionImpl
    from marimo._session.startup import SessionStartup
    from marimo._types.ids import ConsumerId

    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    class Consumer(SessionConsumer):
        @property
        def consumer_id(self) -> ConsumerId:
            return ConsumerId("materia-report")

        def notify(self, notification) -> None:
            if isinstance(deserialize_kernel_message(notification), CompletedRunNotification):
                loop.call_soon_threadsafe(done.set)

        def on_attach(self, session, event_bus) -> None:
            return None

        def on_detach(self) -> None:
            return None

        def connection_state(self) -> ConnectionState:
            return ConnectionState.OPEN

    config = get_default_config_manager(current_path=manager.path).with_overrides(
        # show_tracebacks: run mode otherwise hides a failing cell's message behind an id.
        {
            "runtime": {
                "on_cell_change": "autorun",
                "auto_instantiate": True,
                "show_tracebacks": True,
            }
        }  # type: ignore[typeddict-item]
    )
    session = await SessionImpl.create(
        startup=SessionStartup(),
        initialization_id="_any_",
        session_consumer=Consumer(),
        mode=SessionMode.RUN,
        app_metadata=AppMetadata(
            query_params={},
            filename=manager.path,
            cli_args=cli_args,
            argv=_argv(cli_args),
            app_config=manager.app.config,
        ),
        app_file_manager=manager,
        config_manager=config,
        virtual_file_storage=None,
        redirect_console_to_browser=False,
        ttl_seconds=None,
        auto_instantiate=True,
    )
    try:
        session.instantiate(InstantiateNotebookRequest(object_ids=[], values=[]), http_request=None)
        try:
            await asyncio.wait_for(done.wait(), RUN_TIMEOUT_S)
        except TimeoutError:
            raise MateriaError(
                f"{Path(manager.path or '').name}: did not finish within {RUN_TIMEOUT_S} s"
            ) from None
        await asyncio.sleep(0.1)  # let the session view take the last messages (as marimo does)
        return session.session_view
    finally:
        session.close()


# mo.stop() and its consequences: intended, not failures.
INTENTIONAL = ("interruption", "ancestor-prevented", "ancestor-stopped")


def run_notebook(notebook: Path, cli_args: dict) -> list[dict]:
    """Execute the notebook with marimo; each cell's outputs (serialized), in notebook order."""
    if not notebook.is_file():
        raise MateriaError(f"notebook not found: {notebook}")
    from marimo._session.notebook import load_notebook
    from marimo._session.state.serialize import serialize_session_view

    manager = load_notebook(str(notebook))
    # Keep marimo's interactive renderings (converted to static HTML by `reports.html`).
    with _environ({"MARIMO_NO_JS": "false"}):
        view = asyncio.run(_run_session(manager, cli_args))
    # Keep outputs that reference marimo's virtual files (big chart data): dropping them
    # would lose a cell silently; `mime_html` notes what it cannot show offline.
    cells = list(manager.app.cell_manager.cell_ids())
    snapshot = serialize_session_view(view, cells, drop_virtual_file_outputs=False)
    for cell in snapshot["cells"]:
        for out in cell["outputs"]:
            if out.get("type") == "error" and out.get("ename") not in INTENTIONAL:
                what = out.get("evalue") or out.get("ename") or "error"
                raise MateriaError(f"{notebook.name}: cell {cell['id']} failed: {what}")
    return snapshot["cells"]
