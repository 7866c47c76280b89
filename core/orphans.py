"""Helper processes (upload parsers, solver workers) that end with the server that started them."""

from __future__ import annotations

import os
import select
import threading
import time


def die_with(pid: int) -> None:
    """Exit as soon as process `pid` (the server) has ended, however it ended.

    A kill -9 runs none of the server's cleanup, and nothing else would tell the worker: it holds the write
    ends of its own task queue (so it never reads EOF) and its fork server's liveness pipe (so the fork server,
    and the resource tracker beside it, would wait for ever too). Linux gives a pidfd that becomes readable
    when the process ends; elsewhere the worker looks once a second."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(0)
    except (AttributeError, OSError):
        fd = -1

    def watch() -> None:
        if fd >= 0:
            select.select([fd], [], [])
        else:
            while _exists(pid):
                time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="server-watch", daemon=True).start()


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and another user's
        pass
    return True
