"""One validated configuration for the whole pipeline.

Priority, highest first: CLI flags > ``MMRAG_*`` environment variables (``__`` nests, e.g.
``MMRAG_INGEST__WORKERS=4``) > ``--config FILE.toml`` > the store's own ``mmrag.toml`` (written
when the store is created, so a store keeps the models it was built with) > defaults.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url

from app.rag.config import RagSettings
from index.config import EmbedSettings, IndexSettings
from ingest.config import IngestSettings, StoreSettings
from retrieval.config import RetrievalSettings

STORE_CONFIG = "mmrag.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MMRAG_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    store: StoreSettings = Field(default_factory=StoreSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    rag: RagSettings = Field(default_factory=RagSettings)

    @model_validator(mode="after")
    def _tokenizer_follows_text_model(self) -> Settings:
        if self.ingest.tokenizer is None:
            self.ingest.tokenizer = self.embed.text_model
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # deep: a --config file that sets one [retrieval] key keeps the store's other ones
        toml = TomlConfigSettingsSource(settings_cls, deep_merge=True)
        return (init_settings, env_settings, toml)


def _store_dir(config: Path | None, store: Path | None) -> Path:
    if store is not None:
        return Path(store).expanduser()
    if os.environ.get("MMRAG_STORE__DIR"):
        return Path(os.environ["MMRAG_STORE__DIR"]).expanduser()
    if config is not None:
        with open(config, "rb") as f:
            explicit = tomllib.load(f).get("store", {}).get("dir")
        if explicit:
            return Path(explicit).expanduser()
    return StoreSettings().dir


def load_settings(
    config: Path | None = None, store: Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Settings for a store: ``overrides`` are CLI flags (nested dicts, highest priority)."""
    store_dir = _store_dir(config, store)
    files = [f for f in (store_dir / STORE_CONFIG, config) if f is not None and Path(f).is_file()]
    if config is not None and not Path(config).is_file():
        raise FileNotFoundError(f"config file not found: {config}")

    class _Loaded(Settings):  # a subclass per call: the TOML files are class configuration
        model_config = SettingsConfigDict(toml_file=files)

    init = dict(overrides or {})
    # absolute: a process that changes its working directory keeps its store
    init["store"] = {**init.get("store", {}), "dir": os.path.abspath(store_dir)}
    return _Loaded(**init)


def _toml(value: Any) -> str:
    """A TOML value (inline tables for mappings); JSON's strings and arrays are valid TOML."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def save_store_config(settings: Settings, *, replace: bool = False) -> Path:
    """Record the models of a new store (and retrieval settings tuned to them) for later runs."""
    path = settings.store.dir / STORE_CONFIG
    if path.exists() and not replace:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    embed = settings.embed.model_dump(
        exclude={"device", "text_backend", "batch_size", "threads"}, exclude_none=True
    )
    lines = [
        "# Written when this store was created: the models its indexes were built with.",
        "[embed]",
    ]
    lines += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in embed.items()]
    lines += [
        "",
        "[ingest]",
        f"tokenizer = {json.dumps(settings.ingest.tokenizer)}",
        f"chunk_tokens = {settings.ingest.chunk_tokens}",
        f"chunk_overlap = {settings.ingest.chunk_overlap}",
        "",
        "[ingest.transcriber]",
        f"model = {json.dumps(settings.ingest.transcriber.model)}",
        "",
    ]
    # where its vectors and catalog live: a store keeps them (a password is never written)
    index = settings.index
    lines += ["[index]", f"backend = {json.dumps(index.backend)}", ""]
    if index.backend == "milvus":
        milvus = index.milvus.model_dump(include={"uri", "db_name", "prefix", "index_type"})
        lines += ["[index.milvus]", *(f"{k} = {_toml(v)}" for k, v in milvus.items()), ""]
    url = settings.store.database_url
    if url and make_url(url).password is None:
        lines += ["[store]", f"database_url = {json.dumps(url)}", ""]
    # thresholds and the reranker are tuned to the models: keep what was configured for them
    tuned = settings.retrieval.model_dump(mode="json", exclude_unset=True)
    if tuned:
        lines += ["[retrieval]", *(f"{k} = {_toml(v)}" for k, v in tuned.items()), ""]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)
    return path
