"""``cnn-tui serve``: the terminal app in a web browser (textual-serve).

Every browser tab that opens the page starts its own copy of the app (``python -m cnn_tui tui``,
same interpreter and environment as the server) on this machine; closing the tab quits that
copy, and a run it was training is stopped and stored as ``stopped`` first (the app's quit path,
see :meth:`cnn_tui.tui.app.CnnTuiApp.on_web_quit`). textual-serve is imported only here, when
the command runs.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import shlex
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from cnn_tui.cli.common import OK, CliError, add_runs_dir, info, out, runs_dir

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
TAB_QUIT_SECONDS = 30.0
"""How long stopping the server waits for the tabs' apps to store their runs and exit."""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: use a whole number from 1 to 65535") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value}: use a whole number from 1 to 65535")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve the terminal app to a web browser (each tab is its own app)",
        description="Serve the terminal app over HTTP with textual-serve: each browser tab that opens "
        "the page runs its own copy of the app on this machine, with this machine's runs folder and "
        "training. Listens on 127.0.0.1 only unless --host says otherwise; from another machine use "
        "an SSH tunnel (ssh -L 8000:127.0.0.1:8000 HOST) rather than a public address. Closing a tab "
        "quits its app; a run in progress is stopped and stored as 'stopped'.",
    )
    p.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST}, this machine only)"
    )
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"TCP port (default: {DEFAULT_PORT})")
    p.add_argument(
        "--public-url",
        metavar="URL",
        default=None,
        help="the address the browser uses when it differs from http://HOST:PORT "
        "(an SSH tunnel to another local port, a reverse proxy)",
    )
    add_runs_dir(p)
    p.add_argument("--preset", metavar="NAME", default=None, help="preset each tab's setup screen opens with")
    p.set_defaults(func=cmd_serve)


def _url_host(host: str) -> str:
    """``host`` as it goes into a URL (IPv6 literals in brackets; a wildcard -> this host's name)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.is_unspecified:
        return socket.gethostname()
    return f"[{host}]" if address.version == 6 else host


def page_url(host: str, port: int, public_url: str | None = None) -> str:
    """The address the browser opens, and the page's websocket connects back to (textual-serve
    builds it from this URL, so it has to be one the browser can reach)."""
    return (public_url or f"http://{_url_host(host)}:{port}").rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(host: str, port: int) -> None:
    """Raise :class:`CliError` unless ``host``:``port`` can be listened on now (bound, then released)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise CliError(f"--host {host!r}: cannot resolve it ({getattr(exc, 'strerror', None) or exc})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise CliError(f"cannot listen on {host} port {port}: {reason}") from None


def app_command(runs: Path, preset: str | None) -> str:
    """The shell command each tab runs (textual-serve runs it with ``sh -c``): this interpreter's
    ``-m cnn_tui tui`` with the options, exec'd so the tab's app is one process, not two."""
    argv = [sys.executable, "-m", "cnn_tui", "tui", "--runs-dir", str(runs)]
    if preset:
        argv += ["--preset", preset]
    return "exec " + " ".join(shlex.quote(a) for a in argv)


def make_server(command: str, host: str, port: int, public_url: str) -> Any:
    """A textual-serve ``Server`` that, when it is stopped, quits every tab's app at once and
    waits for them (a run in progress is stopped and stored, not killed).

    textual-serve quits a tab's app when its websocket closes, but on Ctrl+C / SIGTERM it
    leaves the open websockets to aiohttp's shutdown, which waits for them (up to a minute)
    before it cancels them; cancelling the websocket handlers ourselves from ``on_shutdown``
    (the hook textual-serve leaves for this) sends each app its quit right away.
    """
    from textual_serve.server import Server

    class CnnTuiServer(Server):
        def __init__(self) -> None:
            super().__init__(command, host=host, port=port, title="cnn-tui", public_url=public_url)
            self.tabs: set[asyncio.Task] = set()

        async def handle_websocket(self, request: Any) -> Any:
            task = asyncio.current_task()
            if task is not None:
                self.tabs.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                self.tabs.discard(task)  # type: ignore[arg-type]

        async def on_shutdown(self, app: Any) -> None:
            tabs = list(self.tabs)
            for task in tabs:
                task.cancel()  # textual-serve's handler: sends the app quit, waits for it to exit
            if tabs:
                await asyncio.wait(tabs, timeout=TAB_QUIT_SECONDS)

    return CnnTuiServer()


def _serve(server: Any) -> None:
    """Run ``server`` until Ctrl+C, SIGTERM or -- unless ignored (nohup) -- SIGHUP (the terminal
    that started it went away): each ends it the same graceful way."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # textual-serve's serve() takes the current loop
    try:
        if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
            loop.add_signal_handler(signal.SIGHUP, server.request_exit)
    except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
        pass
    try:
        server.serve()
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def cmd_serve(args: argparse.Namespace) -> int:
    host, port = args.host, args.port
    runs = runs_dir(args).resolve()
    preset = getattr(args, "preset", None) or getattr(args, "top_preset", None)
    if preset:
        from cnn_tui.core.presets import resolve_spec

        resolve_spec(preset)  # a bad name or file: one line, exit 2, before any tab fails on it
    try:
        import textual_serve.server  # noqa: F401
    except ImportError as exc:
        raise CliError(
            f"textual-serve is not installed ({exc}); install it with: pip install 'textual-serve>=1.1'"
        ) from None
    check_listen(host, port)
    public_url = page_url(host, port, args.public_url)
    server = make_server(app_command(runs, preset), host, port, public_url)
    out(f"cnn-tui serve: open {public_url} in a browser (runs folder {runs}); Ctrl+C stops the server")
    if not _is_loopback(host):
        info(
            f"warning: listening on {host}: anyone who can reach this port gets the full app (runs folder, "
            "training on this machine) without a password; prefer 127.0.0.1 and an SSH tunnel"
        )
    _serve(server)
    return OK


__all__ = ["app_command", "check_listen", "cmd_serve", "make_server", "page_url", "register"]
