"""Library page: add files (upload or folder) with background ingestion, documents, problems,
and what the store holds."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.ui.components import md_escape, uploader_frame
from app.ui.files import INGEST_TYPES, UploadRejected, extensions_for, save_upload
from app.ui.i18n import llm_labeller, t
from app.ui.items import disk_mb, documents, file_errors, index_stats
from app.ui.jobs import Busy
from app.ui.progress import POLL_S, refresh_when_done, status_text, tally_text
from app.ui.state import Resources, rag, resources

res = resources()
st.title(t("library.title"))


def start(paths: list[Path]) -> None:
    """Start a job (in a button's callback: the page then reruns showing the new job, never a
    moment of the last one)."""
    try:
        res.jobs.start(paths)
    except Busy:
        st.session_state["library-note"] = ("warning", t("library.busy"))
        return
    st.toast(t("library.started"), icon=":material/play_arrow:")


def ingest_uploads(key: str) -> None:
    saved: list[Path] = []
    problems = []
    for up in st.session_state.get(key) or []:
        try:
            saved.append(
                save_upload(
                    res.uploads_dir, up.name, up.getvalue(), max_bytes=res.upload_bytes
                ).path
            )
        except UploadRejected as exc:
            problems.append(t("common.rejected", reason=exc))
    if problems:
        st.session_state["library-note"] = ("error", "  \n".join(problems))
    if saved:
        st.session_state["upload-gen"] = st.session_state.get("upload-gen", 0) + 1  # empties it
        start(saved)


def ingest_folder() -> None:
    folder = st.session_state.get("library-folder") or ""
    path = Path(folder).expanduser()
    if path.is_dir():
        start([path.resolve()])
    else:
        st.session_state["library-note"] = ("error", t("library.no_folder", path=folder))


def progress_panel() -> None:
    """Progress of the current (or last) job, polled while it runs: which file and how it is
    read, then embedding; the files done so far."""
    job = res.jobs.active or res.jobs.last
    if job is None:
        return
    st.subheader(t("library.progress"))

    def panel() -> None:
        # keyed per job: a new job's panel is a new element, never the last one's
        st.container(key=f"ingest-job-{job.id}").progress(job.fraction, text=status_text(job))
        if job.running:
            st.button(
                t("library.cancel"),
                icon=":material/stop_circle:",
                key=f"cancel-{job.id}",
                on_click=job.cancel.set,
            )
        refresh_when_done(job)
        if job.status == "failed":
            st.error(job.error)
        if job.results:
            st.caption(tally_text(job))
            st.dataframe(
                [
                    {
                        t("library.col.file"): Path(r["display"]).name,
                        t("library.col.status"): t(f"library.result.{r['status']}"),
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

    st.fragment(panel, run_every=POLL_S if job.running else None)()


def add_tab(res: Resources) -> None:
    busy = res.jobs.active is not None
    gen = st.session_state.setdefault("upload-gen", 0)
    key = f"library-upload-{gen}"
    types = extensions_for(INGEST_TYPES)
    limits = t("library.upload_limits", mb=res.max_upload_mb, n=len(types))
    uploads = uploader_frame("frame-library-upload", limits).file_uploader(
        t("library.upload"),
        type=types,
        accept_multiple_files=True,
        key=key,
        help=t("library.upload_help", mb=res.max_upload_mb),
        max_upload_size=max(1, int(res.max_upload_mb)),
    )
    st.button(
        t("library.ingest_uploads"),
        type="primary",
        icon=":material/upload_file:",
        disabled=busy or not uploads,
        on_click=ingest_uploads,
        args=(key,),
    )
    if note := st.session_state.pop("library-note", None):
        getattr(st, note[0])(note[1])
    st.divider()
    cols = st.columns([4, 1], vertical_alignment="bottom")
    folder = cols[0].text_input(
        t("library.folder"),
        placeholder=t("library.folder_placeholder"),
        disabled=not res.allow_folders,
        key="library-folder",
    )
    cols[1].button(
        t("library.ingest_folder"),
        icon=":material/create_new_folder:",
        disabled=busy or not res.allow_folders or not folder,
        on_click=ingest_folder,
    )
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
            t("library.col.id"): r["id"],
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
            f"**{t(f'map.space.{space}')}** · "
            + t("library.vectors", n=s["vectors"], mb=s["mb"], model=md_escape(s["model"]))
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
        t("library.model.llm"): llm_labeller()(getattr(getattr(settings, "rag", None), "llm", "—")),
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
