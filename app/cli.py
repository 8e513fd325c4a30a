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
    with progress:
        task = progress.add_task("files", total=total, detail="")
        try:
            for res in rag.ingest(
                paths,
                prune=prune,
                retry_failed=retry_failed,
                on_stage=lambda s: progress.update(task, description=s),
            ):
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


@config_app.command("show")
def config_show(store: StoreOpt = None, config: ConfigOpt = None) -> None:
    """Print the effective configuration (all sources merged) as JSON."""
    out.print_json(_settings(config, store).model_dump_json())


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
