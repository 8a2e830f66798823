"""The Granian server process, started by `omniroute` (the CLI) with `exec` once it has
validated the configuration and prepared the data directory.

The CLI imports much of the gateway to do that (configuration, migrations, the vault, the admin
password); replacing the process image drops all of it, so the Granian parent that supervises
the workers stays as small as Granian itself (same PID, so signals and supervisors still see
one process). Settings arrive as JSON in `OMNIROUTE_SETTINGS_JSON`, the variable the workers
read too.
"""

from __future__ import annotations

import os

from omniroute.settings import settings_from_worker_env


def main() -> None:
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    settings = settings_from_worker_env(os.environ)
    Server(
        "omniroute.app:create_app",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.RSGI,
        workers=settings.workers,
        loop=Loops.uvloop,
        factory=True,
        log_level=LogLevels(settings.log_level),
        workers_kill_timeout=max(1, int(settings.shutdown_timeout)),
        backlog=2048,
    ).serve()


if __name__ == "__main__":
    main()
