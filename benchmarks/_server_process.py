"""A server under benchmark in its own process: started with its output in a log file, polled until it
answers, stopped with SIGTERM and then SIGKILL. The agent, LitServe and Triton differ only in their
command line, how to ask whether they are ready, and whether they fork (then the whole process group
they lead is stopped, so no worker is left behind).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from typing import Dict, List, Optional

STOP_STEPS = ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0))


class ServerProcess:
    """Subclasses give `command()`, `ready()` and a `log_path` (set before `__enter__`)."""

    name = "server"
    ready_timeout_s = 60.0
    poll_s = 0.3
    own_group = False  # True: start_new_session, and stop the whole group (servers that fork workers)
    log_path = ""

    process: Optional[subprocess.Popen] = None

    def command(self) -> List[str]:
        raise NotImplementedError

    def environment(self) -> Dict[str, str]:
        return dict(os.environ)

    def working_dir(self) -> Optional[str]:
        return None

    def ready(self) -> bool:
        """True once the server answers; exceptions count as not yet."""
        raise NotImplementedError

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> "ServerProcess":
        with open(self.log_path, "wb") as logf:  # a file, not a pipe: nobody reads it while serving
            self.process = subprocess.Popen(self.command(), cwd=self.working_dir(), env=self.environment(),
                                            stdout=logf, stderr=subprocess.STDOUT, start_new_session=self.own_group)
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        end = time.monotonic() + self.ready_timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError("%s exited (rc %s): %s" % (self.name, self.process.returncode, self.log()[-3000:]))
            with contextlib.suppress(Exception):
                if self.ready():
                    return
            if time.monotonic() > end:
                raise RuntimeError("%s did not answer within %.0f s: %s" % (self.name, self.ready_timeout_s,
                                                                            self.log()[-3000:]))
            time.sleep(self.poll_s)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL: to the process, or to its whole group when `own_group`."""
        process = self.process
        if process is None:
            return
        for sig, wait_s in STOP_STEPS:
            if not self._alive():
                break
            with contextlib.suppress(ProcessLookupError):
                if self.own_group:
                    os.killpg(process.pid, sig)  # start_new_session: the group id is the leader's pid
                else:
                    process.send_signal(sig)
            end = time.monotonic() + wait_s
            while time.monotonic() < end and self._alive():
                time.sleep(0.1)
        process.poll()

    def _alive(self) -> bool:
        assert self.process is not None
        leader = self.process.poll() is None  # poll() also reaps the leader, which would stay in the group
        if not self.own_group:
            return leader
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        self.stop()
