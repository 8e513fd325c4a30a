"""The ``mmrag`` command line."""

from __future__ import annotations

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

from app.config import Settings, load_settings

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
) -> None:
    """Ingest files and folders (parallel, resumable, idempotent)."""
    from app.api import MMRag

    ingest_over: dict[str, Any] = {}
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
    chunks = images = 0
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
            index_tasks[space] = progress.add_task(f"embed {space}", total=todo, detail="")
        progress.update(index_tasks[space], completed=done, total=todo, detail="vectors")

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
                if res.status.value == "failed":
                    progress.console.print(f"[red]failed[/red] {res.path}: {res.reason}")
        except KeyboardInterrupt:
            interrupted = True
    summary = {
        "files": sum(tally.values()),
        **dict(tally),
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
    return Path(hit["source"]).name, where


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
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Search by meaning (text or --image) across text, images and audio."""
    from app.api import MMRag
    from index.vector_store import VectorStoreError

    if modality not in ("text", "image", "audio", "all"):
        raise typer.BadParameter("must be text, image, audio or all", param_hint="--modality")
    if not query and image is None:
        raise typer.BadParameter("give a QUERY or --image FILE")
    rag = MMRag(_settings(config, store))
    try:
        hits = [h.to_json() for h in rag.search(query, image=image, k=k, modality=modality)]
    except VectorStoreError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if as_json:
        shown = query if image is None else str(image)
        print(json.dumps({"query": shown, "results": hits}, ensure_ascii=False, indent=2))
        return
    if not hits:
        console.print("no results (is the store empty? run `mmrag ingest PATH` first)")
        return
    table = Table()
    for col in ("#", "score", "kind", "file", "where", "snippet"):
        table.add_column(col, overflow="fold", no_wrap=col != "snippet")
    for n, hit in enumerate(hits, 1):
        name, where = _format_hit(hit)
        snippet = " ".join((hit["text"] or "").split())[:160] or "(image)"
        score = f"{hit['score']:.3f}" + (" [dim](low)[/dim]" if hit["low_relevance"] else "")
        table.add_row(str(n), score, hit["modality"], name, where, snippet)
    out.print(table)


@app.command()
def doctor(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    repair: Annotated[bool, typer.Option(help="repair what can be repaired safely")] = True,
) -> None:
    """Check the store (catalog, files, indexes) and repair what it safely can."""
    from app.api import MMRag

    findings = MMRag(_settings(config, store)).doctor(repair=repair)
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


@config_app.command("show")
def config_show(store: StoreOpt = None, config: ConfigOpt = None) -> None:
    """Print the effective configuration (all sources merged) as JSON."""
    out.print_json(_settings(config, store).model_dump_json())


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
