"""Run in the tests' Ray workers (``worker_process_setup_hook``): readers that kill their
worker, which monkeypatching in the test process cannot reach."""

from __future__ import annotations

import os
import time


def crashing_readers() -> None:
    """A file named ``crash*`` kills every worker that reads it; ``flaky*`` only the first.
    The first worker to read a ``hang*`` file writes its pid beside the folder and waits to be
    killed from outside (``kill -9``); the next one reads it."""
    from ingest import worker

    real = worker.read

    def read(job: worker.Job) -> worker.Outcome:
        name = job.path.name
        if name.startswith("crash"):
            os._exit(3)
        marker = job.path.parent.parent / (name + ".crashed-once")  # outside the folder
        if name.startswith("flaky") and not marker.exists():
            marker.touch()
            os._exit(3)
        if name.startswith("hang") and not marker.exists():
            marker.touch()
            pid_file = job.path.parent.parent / (name + ".pid")
            pid_file.with_suffix(".tmp").write_text(str(os.getpid()))
            pid_file.with_suffix(".tmp").replace(pid_file)
            time.sleep(300)
        return real(job)

    worker.read = read
