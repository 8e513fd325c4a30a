"""The ``mmrag`` command line."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from app.config import Settings, load_settings
from ingest.paths import display_name, readable

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help=__doc__ and "mmrag: multimodal semantic search and grounded answers over your own files.",
)
config_app = typer.Typer(no_args_is_help=True, help="Show the effective configuration.")
app.add_typer(config_app, name="config")
console = Console(stderr=True)
out = Console()

StoreOpt = Annotated[Path | None, typer.Option("--store", help="store directory (default .mmrag)")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML config file")]


def _settings(config: Path | None, store: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, store, overrides)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or folders to ingest", exists=True)],
    store: StoreOpt = None,
    config: ConfigOpt = None,
    workers: Annotated[int | None, typer.Option(help="parallel reader processes")] = None,
    include: Annotated[list[str] | None, typer.Option(help="only paths matching this glob")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="skip paths matching this glob")] = None,
    prune: Annotated[bool, typer.Option(help="forget files that are gone from disk")] = False,
    retry_failed: Annotated[bool, typer.Option(help="try files that failed before again")] = False,
    report: Annotated[Path | None, typer.Option(help="write a JSON report of every file")] = None,
    engine: Annotated[
        str | None, typer.Option(help="read files in a local pool ('local') or on Ray ('ray')")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster address (with --engine ray); default: local")
    ] = None,
) -> None:
    """Ingest files and folders (parallel, resumable, idempotent)."""
    from app.api import MMRag

    ingest_over: dict[str, Any] = {}
    if engine is not None:
        ingest_over["engine"] = engine
    if ray_address is not None:
        ingest_over["engine"], ingest_over["ray_address"] = "ray", ray_address
    if workers is not None:
        ingest_over["workers"] = workers
    if include:
        ingest_over["include"] = include
    if exclude:
        defaults = load_settings(config, store).ingest.exclude
        ingest_over["exclude"] = [*defaults, *exclude]
    settings = _settings(config, store, ingest=ingest_over)
    rag = MMRag(settings)
    total = rag.pipeline.count(paths)
    results: list[dict[str, Any]] = []
    tally: Counter[str] = Counter()
    chunks = images = reread = 0
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not console.is_terminal and not sys.stderr.isatty(),
    )
    interrupted = False
    index_tasks: dict[str, Any] = {}

    def on_index(space: str, done: int, todo: int) -> None:
        if space not in index_tasks:
            label = "BM25 index" if space == "lexical" else f"embed {space}"
            index_tasks[space] = progress.add_task(label, total=todo, detail="")
        unit = "items" if space == "lexical" else "vectors"
        progress.update(index_tasks[space], completed=done, total=todo, detail=unit)

    with progress:
        task = progress.add_task("files", total=total, detail="")
        try:
            for res in rag.ingest(paths, prune=prune, retry_failed=retry_failed, on_index=on_index):
                tally[res.status.value] += 1
                chunks += res.chunks
                images += res.images
                if report:
                    results.append(res.to_json())
                if res.status.value != "removed":
                    progress.advance(task)
                progress.update(
                    task, detail=f"{chunks} chunks, {images} images, {tally['failed']} failed"
                )
                reread += res.reread
                if res.status.value == "failed":
                    why = readable(f"{res.path}: {res.reason}")
                    progress.console.print(Text.assemble(("failed", "red"), " ", why))
                elif res.reread and res.status.value == "unchanged":  # the new reader failed
                    why = readable(f"{res.path}: {res.reason}")
                    progress.console.print(Text.assemble(("kept", "yellow"), " ", why))
        except KeyboardInterrupt:
            interrupted = True
    summary = {
        "files": sum(tally.values()),
        **dict(tally),
        **({"read again (newer reader)": reread} if reread else {}),
        "chunks": chunks,
        "images": images,
        "interrupted": interrupted,
    }
    if report:
        report.write_text(
            json.dumps({"summary": summary, "files": results}, ensure_ascii=False, indent=2),
            encoding="utf-8",
        )
    table = Table(title="ingest summary", show_header=False)
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)
    if interrupted:
        console.print("[yellow]interrupted: run the same command again to resume[/yellow]")
        raise typer.Exit(130)


def _format_hit(hit: dict[str, Any]) -> tuple[str, str]:
    where = ""
    if hit["page"] is not None:
        end = hit.get("page_end") or hit["page"]
        where = f"p. {hit['page']}" + (f"-{end}" if end > hit["page"] else "")
    elif hit["t_start"] is not None:
        where = f"{_clock(hit['t_start'])}-{_clock(hit['t_end'] or hit['t_start'])}"
    return display_name(hit["source"]), where


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="what to look for")] = None,
    image: Annotated[
        Path | None,
        typer.Option("--image", help="search with an image", exists=True, dir_okay=False),
    ] = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", help="number of results")] = 10,
    modality: Annotated[str, typer.Option(help="text | image | audio | all")] = "all",
    mode: Annotated[
        str | None, typer.Option(help="bm25 | dense | hybrid (default: configured, hybrid)")
    ] = None,
    rerank: Annotated[
        bool | None,
        typer.Option("--rerank/--no-rerank", help="cross-encoder reranking (default: configured)"),
    ] = None,
    file_type: Annotated[
        list[str] | None, typer.Option("--type", help="only these file types (pdf, docx, png...)")
    ] = None,
    path: Annotated[
        str | None, typer.Option(help="only files whose path matches this glob")
    ] = None,
    after: Annotated[
        str | None, typer.Option(help="only items dated on/after YYYY-MM-DD (EXIF, file date)")
    ] = None,
    before: Annotated[
        str | None, typer.Option(help="only items dated on/before YYYY-MM-DD")
    ] = None,
    lang: Annotated[list[str] | None, typer.Option(help="only these languages (en, ja...)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Search by meaning and keywords (text or --image) across text, images and audio."""
    from app.api import MMRag
    from index.lexical import LexicalIndexError
    from index.vector_store import VectorStoreError
    from retrieval.config import MODES
    from retrieval.filters import Filters

    if modality not in ("text", "image", "audio", "all"):
        raise typer.BadParameter("must be text, image, audio or all", param_hint="--modality")
    if mode is not None and mode not in MODES:
        raise typer.BadParameter(f"must be one of {', '.join(MODES)}", param_hint="--mode")
    if not query and image is None:
        raise typer.BadParameter("give a QUERY or --image FILE")
    filters = Filters(
        file_types=tuple(file_type or ()),
        path_glob=path,
        date_from=_date(after, "--after"),
        date_to=_date(before, "--before"),
        languages=tuple(lang or ()),
    )
    rag = MMRag(_settings(config, store))
    try:
        found = rag.search(
            query,
            image=image,
            k=k,
            modality=modality,
            mode=mode,  # type: ignore[arg-type]
            filters=filters,
            rerank=rerank,
        )
    except (VectorStoreError, LexicalIndexError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    hits = [h.to_json() for h in found]
    if as_json:
        shown = query if image is None else str(image)
        doc = {"query": shown, "results": hits, "search": found.info.to_json()}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    for note in found.info.notes:
        console.print(f"note: {note}", style="yellow", markup=False, highlight=False)
    if not hits:
        console.print("no results (is the store empty? run `mmrag ingest PATH` first)")
        return
    info = found.info
    how = f"{info.mode}, " + (f"reranked by {info.reranker}" if info.reranked else "not reranked")
    table = Table(title=how, title_justify="left")
    for col in ("#", "score", "kind", "file", "where", "snippet"):
        table.add_column(col, overflow="fold", no_wrap=col != "snippet")
    for n, hit in enumerate(hits, 1):
        name, where = _format_hit(hit)
        snippet = " ".join((hit["text"] or "").split())[:160] or "(image)"
        score = f"{hit['score']:.3f}" + (" [dim](low)[/dim]" if hit["low_relevance"] else "")
        table.add_row(str(n), score, hit["modality"], name, where, snippet)
    out.print(table)


def _date(value: str | None, flag: str) -> Any:
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter("use YYYY-MM-DD", param_hint=flag) from exc


@app.command("eval")
def eval_(
    questions: Annotated[
        Path, typer.Argument(help="JSON lines: query, gold_file[, gold_text, page...]", exists=True)
    ],
    store: StoreOpt = None,
    config: ConfigOpt = None,
    k: Annotated[int, typer.Option("--k", "-k", help="results per query")] = 10,
    modes: Annotated[
        str, typer.Option(help="comma-separated: bm25, dense, hybrid, hybrid+rerank...")
    ] = "bm25,dense,hybrid,hybrid+rerank",
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Measure retrieval on labelled questions: hit@1, hit@5, MRR, nDCG@10 per mode."""
    from app.api import MMRag
    from retrieval.config import MODES
    from retrieval.evaluate import METRICS, evaluate, load_questions, reports_json

    wanted = [m.strip() for m in modes.split(",") if m.strip()]
    for m in wanted:
        if m.removesuffix("+rerank") not in MODES:
            raise typer.BadParameter(f"unknown mode {m!r}", param_hint="--modes")
    try:
        qs = load_questions(questions)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from exc
    rag = MMRag(_settings(config, store))
    notes: set[str] = set()

    def run(query: str, mode: str, n: int) -> list[Any]:
        found = rag.search(
            query, k=n, mode=mode.removesuffix("+rerank"), rerank=mode.endswith("+rerank")
        )  # type: ignore[arg-type]
        notes.update(found.info.notes)
        return found

    reports = evaluate(qs, wanted, run, k=k)
    if as_json:
        doc = {"questions": len(qs), "k": k, **reports_json(reports), "notes": sorted(notes)}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"retrieval on {questions.name} ({len(qs)} questions, k={k})")
    for col in ("mode", "group", "n", *METRICS):
        table.add_column(col, justify="left" if col in ("mode", "group") else "right")
    for r in reports:
        table.add_row(
            r.mode, "all", str(r.counts["all"]), *(f"{r.overall[m]:.3f}" for m in METRICS)
        )
        for group, values in r.groups.items():
            table.add_row(
                "", group, str(r.counts[group]), *(f"{values[m]:.3f}" for m in METRICS), style="dim"
            )
    out.print(table)
    for note in sorted(notes):
        console.print(f"note: {note}", style="yellow", markup=False, highlight=False)


@app.command()
def doctor(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    repair: Annotated[bool, typer.Option(help="repair what can be repaired safely")] = True,
) -> None:
    """Check the store (catalog, files, indexes) and repair what it safely can."""
    from app.api import MMRag
    from index.gpu import device_report

    rag = MMRag(_settings(config, store))
    findings = rag.doctor(repair=repair)
    table = Table(title=f"mmrag doctor ({'repair' if repair else 'check only'})")
    for col in ("check", "status", "detail"):
        table.add_column(col, overflow="fold")
    for f in findings:
        status = (
            "[green]ok[/green]"
            if f.ok
            else ("[yellow]repaired[/yellow]" if f.repaired else "[red]problem[/red]")
        )
        table.add_row(f.check, status, f.detail)
    out.print(table)
    devices = Table(title="devices: where models and indexes run")
    for col in ("what", "found"):
        devices.add_column(col, overflow="fold")
    for row in device_report(rag.indexer, rag.settings.ingest.transcriber.device):
        devices.add_row(row.check, row.detail if row.ok else f"[red]{row.detail}[/red]")
    out.print(devices)
    if any(not f.ok and not f.repaired for f in findings):
        raise typer.Exit(1)


@app.command()
def reindex(
    model: Annotated[str, typer.Option("--model", help="the new model (name, path, builtin:)")],
    space: Annotated[str, typer.Option(help="text (passages) or clip (shared space)")] = "text",
    pretrained: Annotated[str | None, typer.Option(help="open_clip pretrained tag")] = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Rebuild an index with another model beside the old one, then swap atomically."""
    from app.api import MMRag

    if space not in ("text", "clip"):
        raise typer.BadParameter("must be text or clip", param_hint="--space")
    rag = MMRag(_settings(config, store))
    with Progress(
        TextColumn("[bold]embed {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(space, total=None)
        report = rag.reindex(
            space,
            model,
            pretrained,  # type: ignore[arg-type]
            lambda _s, done, todo: progress.update(task, completed=done, total=todo),
        )
    console.print(
        f"{space} index rebuilt with {model}: {report.total} vectors "
        f"in {report.seconds:.1f}s; the store now uses it"
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="what to ask your files")],
    store: StoreOpt = None,
    config: ConfigOpt = None,
    k: Annotated[int | None, typer.Option("--k", "-k", help="sources to retrieve")] = None,
    llm: Annotated[
        str | None,
        typer.Option(
            help="extractive (no model, default), a [rag.llms] name, openai:MODEL, "
            "ollama:MODEL or llamacpp:FILE.gguf"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Answer a question from your files only, with [n] citations you can check."""
    from app.api import MMRag
    from app.rag.errors import LLMError
    from app.rag.types import Answer
    from index.lexical import LexicalIndexError
    from index.vector_store import VectorStoreError

    rag = MMRag(_settings(config, store))
    answer: Answer | None = None
    try:
        for item in rag.ask_stream(question, k=k, llm=llm):
            if isinstance(item, Answer):
                answer = item
            elif isinstance(item, str) and not as_json:
                out.print(item, end="", markup=False, highlight=False, soft_wrap=True)
    except (LLMError, VectorStoreError, LexicalIndexError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    assert answer is not None
    if as_json:
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
        return
    out.print()
    _print_answer_sources(answer)


def _print_answer_sources(answer: Any) -> None:
    cited = {c.n: c for c in answer.citations}
    title = "sources" if answer.status == "answered" else "closest sources (not found)"
    table = Table(title=title, title_justify="left")
    for col in ("n", "file", "where", "kind", "support", "text"):
        table.add_column(col, overflow="fold", no_wrap=col not in ("text", "file"))
    for src in answer.sources:
        hit = src.to_json()
        name, where = _format_hit(hit)
        c = cited.get(src.n)
        support = "" if c is None else f"{c.support:.2f}" + ("" if c.supported else " (weak)")
        cells = (f"[{src.n}]" + ("*" if c else ""), name, where, hit["modality"], support)
        snippet = " ".join((src.text or "").split())[:140] or "(image)"
        table.add_row(*(Text(x) for x in (*cells, snippet)), style=None if c else "dim")
    out.print(table)
    notes = []
    if answer.citation_precision is not None:
        notes.append(f"citation precision {answer.citation_precision:.2f}")
    if answer.invalid_citations:
        notes.append(f"removed invalid citations {answer.invalid_citations}")
    unsupported = answer.unsupported_sentences
    notes += [f"unsupported: {u['sentence'][:120]} ({u['reason']})" for u in unsupported[:5]]
    if len(unsupported) > 5:
        notes.append(f"... and {len(unsupported) - 5} more unsupported sentences")
    notes += answer.warnings
    for note in notes:
        console.print(note, style="dim", markup=False, highlight=False)


@app.command()
def ui(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    port: Annotated[int, typer.Option(help="port to listen on")] = 8501,
    host: Annotated[
        str, typer.Option(help="address to bind; anything but loopback exposes your files")
    ] = "127.0.0.1",
    max_upload_mb: Annotated[float, typer.Option(help="largest file accepted for ingest")] = 200,
    allow_folders: Annotated[
        bool | None,
        typer.Option(
            help="let the Library ingest server folders (default: only on a loopback address)"
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="also accept this name in the Host header, e.g. the domain of a proxy in "
            "front ('*': any name, which gives up the DNS-rebinding protection)",
        ),
    ] = None,
) -> None:
    """Open the web UI (Streamlit): search, images, chat, library, map, settings.

    Only the bound address (and this machine's own names, for loopback or all-interface
    binds) is accepted in the Host header: a web page that re-points its domain at your
    machine (DNS rebinding) gets no connection.
    """
    import os
    import subprocess

    from app.ui import MAIN

    settings = _settings(config, store)  # fail early on a bad configuration
    loopback = _is_loopback(host)
    if not loopback:
        console.print(
            f"[yellow]warning:[/yellow] binding to {host}: anyone who can reach it can read "
            "the files of this store"
        )
    folders = loopback if allow_folders is None else allow_folders
    env = {
        **os.environ,
        "MMRAG_UI_STORE": str(settings.store.dir.resolve()),
        "MMRAG_UI_MAX_UPLOAD_MB": str(max_upload_mb),
        "MMRAG_UI_ALLOW_FOLDERS": "1" if folders else "0",
    }
    if config is not None:
        env["MMRAG_UI_CONFIG"] = str(config.resolve())
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(MAIN),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.maxUploadSize",
        str(max(1, int(max_upload_mb))),
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
    ]
    for name in allowed_hosts(host, allowed_host or []):
        cmd += ["--server.allowedHosts", name]
    console.print(f"mmrag UI on http://{host}:{port} (store {settings.store.dir})")
    try:
        raise typer.Exit(subprocess.call(cmd, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def allowed_hosts(host: str, extra: list[str]) -> list[str]:
    """Names the UI accepts in the Host header (Streamlit's ``server.allowedHosts``): the bound
    address; for a loopback one the loopback names; for all interfaces this machine's names
    and addresses; plus ``extra``."""
    import socket

    names = {host, *extra}
    local = {"localhost", "127.0.0.1", "::1"}
    if host in ("0.0.0.0", "::", ""):
        names |= local | {socket.gethostname(), socket.getfqdn()}
        with contextlib.suppress(OSError):
            names |= {str(a[4][0]) for a in socket.getaddrinfo(socket.gethostname(), None)}
    elif _is_loopback(host):
        names |= local
    return sorted({n.strip().lower().strip("[]") for n in names} - {""})


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@config_app.command("show")
def config_show(store: StoreOpt = None, config: ConfigOpt = None) -> None:
    """Print the effective configuration (all sources merged) as JSON."""
    out.print_json(_settings(config, store).model_dump_json())


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
