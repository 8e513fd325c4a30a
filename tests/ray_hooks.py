"""Run in the tests' Ray workers (``worker_process_setup_hook``): readers that kill their
worker, which monkeypatching in the test process cannot reach."""

from __future__ import annotations

import os


def crashing_readers() -> None:
    """A file named ``crash*`` kills every worker that reads it; ``flaky*`` only the first."""
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
        return real(job)

    worker.read = read
