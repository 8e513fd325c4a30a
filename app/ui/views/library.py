"""Library page: add files (upload or folder) with background ingestion, documents, problems,
and what the store holds."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.ui.files import INGEST_TYPES, UploadRejected, extensions_for, save_upload
from app.ui.i18n import t
from app.ui.items import disk_mb, documents, file_errors, index_stats
from app.ui.jobs import Busy, IngestJob
from app.ui.state import Resources, rag, resources

res = resources()
st.title(t("library.title"))


def start(paths: list[Path]) -> None:
    try:
        res.jobs.start(paths)
    except Busy:
        st.warning(t("library.busy"))
        return
    st.toast(t("library.started"), icon=":material/play_arrow:")
    st.rerun()


def status_text(job: IngestJob) -> str:
    if job.status == "reading":
        return t(
            "library.status.reading",
            done=job.done,
            total=job.total or "?",
            current=job.current or "…",
        )
    if job.status == "done":
        return t("library.status.done", done=job.done, seconds=(job.finished or 0) - job.started)
    if job.status == "cancelled":
        return t("library.status.cancelled", done=job.done)
    if job.status == "failed":
        return t("library.status.failed", error=job.error)
    return t(f"library.status.{job.status}")


def progress_panel() -> None:
    """Progress of the current (or last) job; polls once a second while one runs."""
    job = res.jobs.active or (res.jobs.jobs[-1] if res.jobs.jobs else None)
    if job is None:
        return
    running = job.running

    def panel() -> None:
        st.subheader(t("library.progress"))
        st.progress(job.fraction, text=status_text(job))
        if job.running:
            if st.button(
                t("library.cancel"), icon=":material/stop_circle:", key=f"cancel-{job.id}"
            ):
                job.cancel.set()
        elif running:  # it just finished: refresh the whole page once (tables, counts)
            st.rerun(scope="app")
        if job.status == "failed":
            st.error(job.error)
        if job.results:
            st.caption(", ".join(f"{k}: {v}" for k, v in sorted(job.tally().items())))
            st.dataframe(
                [
                    {
                        t("library.col.file"): Path(r["path"]).name,
                        t("library.col.status"): r["status"],
                        t("library.col.items"): r["chunks"],
                        t("library.col.images"): r["images"],
                        t("library.col.seconds"): r["seconds"],
                        t("library.col.reason"): r["reason"] or "",
                    }
                    for r in reversed(job.results)
                ],
                hide_index=True,
                width="stretch",
                height=min(400, 38 + 35 * len(job.results)),
                key=f"job-files-{job.id}-{len(job.results)}",
            )

    st.fragment(panel, run_every=1.0 if running else None)()


def add_tab(res: Resources) -> None:
    busy = res.jobs.active is not None
    gen = st.session_state.setdefault("upload-gen", 0)
    uploads = st.file_uploader(
        t("library.upload"),
        type=extensions_for(INGEST_TYPES),
        accept_multiple_files=True,
        key=f"library-upload-{gen}",
        help=t("library.upload_help", mb=res.max_upload_mb),
        max_upload_size=max(1, int(res.max_upload_mb)),
    )
    if st.button(
        t("library.ingest_uploads"),
        type="primary",
        icon=":material/upload_file:",
        disabled=busy or not uploads,
    ):
        saved: list[Path] = []
        for up in uploads or []:
            try:
                saved.append(
                    save_upload(
                        res.uploads_dir, up.name, up.getvalue(), max_bytes=res.upload_bytes
                    ).path
                )
            except UploadRejected as exc:
                st.error(t("common.rejected", reason=exc))
        if saved:
            st.session_state["upload-gen"] = gen + 1  # empties the uploader
            start(saved)
    st.divider()
    cols = st.columns([4, 1], vertical_alignment="bottom")
    folder = cols[0].text_input(
        t("library.folder"),
        placeholder=t("library.folder_placeholder"),
        disabled=not res.allow_folders,
        key="library-folder",
    )
    if cols[1].button(
        t("library.ingest_folder"),
        icon=":material/create_new_folder:",
        disabled=busy or not res.allow_folders or not folder,
    ):
        path = Path(folder).expanduser()
        if path.is_dir():
            start([path.resolve()])
        else:
            st.error(t("library.no_folder", path=folder))
    if not res.allow_folders:
        st.caption(t("library.folder_disabled"))
    if busy:
        st.caption(t("library.busy"))
    progress_panel()


def docs_tab(res: Resources) -> None:
    rows = documents(res.base.catalog)
    if not rows:
        st.info(t("app.empty_store"))
        return
    st.caption(t("library.docs_help"))
    table = [
        {
            "id": r["id"],
            t("library.col.name"): r["name"],
            t("library.col.title"): r["title"],
            t("library.col.type"): r["type"],
            t("library.col.items"): r["items"],
            t("library.col.size"): r["size_kb"],
            t("library.col.date"): r["date"],
            t("library.col.path"): r["path"],
        }
        for r in rows
    ]
    event = st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=f"library-docs-{res.version}",
    )
    chosen = event.selection.rows if event is not None else []
    if chosen:
        row = rows[chosen[0]]
        st.caption(t("library.delete_note"))
        if st.button(
            t("library.delete", name=row["name"]),
            type="primary",
            icon=":material/delete:",
            disabled=res.jobs.active is not None,
            key=f"delete-{row['id']}",
        ):
            try:
                res.delete_document(row["id"])
            except Busy:
                st.warning(t("library.busy"))
            else:
                st.toast(t("library.deleted", name=row["name"]), icon=":material/delete:")
                st.rerun()


def errors_tab(res: Resources) -> None:
    rows = file_errors(res.base.catalog)
    if not rows:
        st.success(t("library.no_errors"))
        return
    st.dataframe(
        [
            {
                t("library.col.path"): r["path"],
                t("library.col.status"): r["status"],
                t("library.col.reason"): r["reason"],
                t("library.col.when"): r["when"],
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
    )


def store_tab(res: Resources) -> None:
    counts = res.base.catalog.counts()
    cols = st.columns(6)
    cols[0].metric(t("library.documents"), counts.get("documents", 0))
    cols[1].metric(t("library.files_count"), counts.get("files", 0))
    cols[2].metric(t("library.failed"), counts.get("failed", 0))
    for col, kind in zip(cols[3:], ("text", "image", "audio"), strict=True):
        col.metric(t(f"common.kind.{kind}"), counts.get(kind, 0))
    st.subheader(t("library.indexes"))
    for space, s in index_stats(res.base.indexer).items():
        st.markdown(
            f"**{space}** · " + t("library.vectors", n=s["vectors"], mb=s["mb"], model=s["model"])
        )
    st.caption(t("library.disk", mb=disk_mb(res.store_dir)))
    st.subheader(t("library.models"))
    settings = rag().settings
    models = {
        t("library.model.text"): settings.embed.text_model,
        t("library.model.clip"): " / ".join(
            x for x in (settings.embed.clip_model, settings.embed.clip_pretrained) if x
        ),
        t("library.model.whisper"): settings.ingest.transcriber.model,
        t("library.model.llm"): getattr(getattr(settings, "rag", None), "llm", "—"),
    }
    rerank = getattr(settings.retrieval, "rerank", None)
    if rerank is not None:
        models[t("library.model.reranker")] = rerank.model if rerank.enabled else "—"
    st.markdown("\n".join(f"- **{k}**: `{v}`" for k, v in models.items()))


tabs = st.tabs(
    [t("library.tab.add"), t("library.tab.docs"), t("library.tab.errors"), t("library.tab.store")]
)
with tabs[0]:
    add_tab(res)
with tabs[1]:
    docs_tab(res)
with tabs[2]:
    errors_tab(res)
with tabs[3]:
    store_tab(res)
