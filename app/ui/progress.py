"""How a background ingestion looks: its status line (sidebar and Library), and the one page
refresh when it ends."""

from __future__ import annotations

import streamlit as st

from app.ui.i18n import t
from app.ui.jobs import IngestJob

POLL_S = 0.5  # how often a page looks at a running job


def status_text(job: IngestJob) -> str:
    """One line: what the job does now (which file, how it is read), or how it ended."""
    if job.status == "reading" and job.current:
        return t(
            f"library.stage.{job.stage}",
            n=job.done + 1 if job.total is None or job.done < job.total else job.done,
            total=job.total or "?",
            name=job.current,
        )
    if job.status == "indexing":
        done, todo = job.embedded
        return t("library.status.indexing", done=done, todo=todo)
    if job.status == "done":
        return t("library.status.done", done=job.done, seconds=(job.finished or 0) - job.started)
    if job.status == "cancelled":
        return t("library.status.cancelled", done=job.done)
    if job.status == "failed":
        return t("library.status.failed", error=job.error)
    return t(f"library.status.{job.status}")


def tally_text(job: IngestJob) -> str:
    """ "ingested: 2, failed: 1" in the session's language."""
    return ", ".join(
        t("library.tally", status=t(f"library.result.{k}"), n=v)
        for k, v in sorted(job.tally().items())
    )


def refresh_when_done(job: IngestJob) -> None:
    """Called by a polling fragment: once the job it follows has ended, rerun the whole page
    (counts, tables, the sidebar) exactly once, whichever fragment notices first."""
    if job.running or st.session_state.get("ingest-refreshed") == job.id:
        return
    st.session_state["ingest-refreshed"] = job.id
    st.rerun(scope="app")


def sidebar_status() -> None:
    """The sidebar's line about a running ingestion, on every page; it follows the job and
    disappears when it ends."""
    from app.ui.state import resources

    job = resources().jobs.active
    if job is None:
        return

    def line() -> None:
        if job.running:
            st.caption(
                f":material/sync: {t('app.ingesting', done=job.done, total=job.total or '?')}"
            )
            st.progress(job.fraction)
        refresh_when_done(job)

    st.fragment(line, run_every=POLL_S)()
