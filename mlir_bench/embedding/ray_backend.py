"""Encoding past one machine: Ray Data ``map_batches`` over an actor pool, writing into the embedding cache.

Optional: ``pip install mlir-bench[ray]``; Ray is imported only when this backend is used.

How it works (``mlir-bench run --backend ray``): the runner looks up the cache as usual; the texts still missing
go to :meth:`RayEncoding.encode_into_cache`, which

1. sorts them by length (longest first, as the local path does) and cuts them into chunks of ``chunk_size``
   texts: exactly the chunks :func:`mlir_bench.embedding.embed.embed_corpus` would encode locally, so the batches,
   their padding and hence the vectors are the same;
2. makes one Ray Dataset row per chunk and runs ``map_batches(_EncodeActor, batch_size=1, concurrency=N)``: each
   actor loads the model once (by registry name, with the same load options), checks that its vector key equals
   the driver's (a worker with other weights or settings must not write under this key), encodes a chunk and
   writes it to the cache as one shard (:meth:`EmbeddingCache.put_many`: atomic, unique name, no locks);
3. returns; the runner reads every vector back from the cache.

Workers write the cache directly, so on a multi-node cluster the cache folder must be on storage every node
mounts (NFS, Lustre, a FUSE-mounted bucket). Resumption is the cache's: chunks finished before an interruption are
not sent again. See docs/SCALE.md for a multi-node GPU recipe and a cost estimate.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError, UserError
from .embed import DEFAULT_CHUNK


class _EncodeActor:
    """One Ray actor: loads the model once, then encodes a chunk per call and writes it to the cache."""

    def __init__(self, model: str, options: dict[str, Any], cache_root: str, key: str, role: str,
                 batch_size: int | None) -> None:
        from ..encoders.registry import load_encoder
        from .cache import EmbeddingCache

        self.encoder = load_encoder(model, **options)
        got = self.encoder.meta.vector_key(role)  # type: ignore[arg-type]
        if got != key:
            raise ModelError(f"ray worker: model {model} has vector key {got} here but {key} on the driver "
                             f"(different weights, package version or options); refusing to write the cache")
        self.cache = EmbeddingCache(cache_root)
        self.key, self.role, self.batch_size = key, role, batch_size

    def __call__(self, batch: dict[str, Any]) -> dict[str, np.ndarray]:
        from .embed import validate_embeddings

        done = []
        for texts in batch["texts"]:
            texts = [str(t) for t in texts]
            size = {} if self.batch_size is None else {"batch_size": self.batch_size}
            vecs = self.encoder.encode(texts, self.role, **size)  # type: ignore[arg-type]
            vecs = validate_embeddings(vecs, len(texts), self.encoder.meta.dim, self.encoder.meta.name, self.role)
            if not isinstance(vecs, np.ndarray):
                raise ModelError(f"model {self.encoder.meta.name} returned sparse vectors; the Ray backend caches "
                                 "dense vectors only")
            self.cache.put_many(self.key, texts, vecs)
            done.append(len(texts))
        return {"n": np.asarray(done, dtype=np.int64)}


class RayEncoding:
    """Encodes texts on a Ray cluster (or a local Ray instance) straight into the embedding cache."""

    def __init__(
        self,
        model: str,
        cache_root: str | Path,
        *,
        address: str | None = None,
        num_actors: int = 1,
        cpus_per_actor: float | None = None,
        gpus_per_actor: float = 0.0,
        batch_size: int | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        load_options: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.cache_root = str(Path(cache_root).expanduser().resolve())
        self.address = address or os.environ.get("RAY_ADDRESS")
        self.num_actors = num_actors
        self.cpus_per_actor = cpus_per_actor
        self.gpus_per_actor = gpus_per_actor
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.load_options = dict(load_options or {})
        if gpus_per_actor and "device" not in self.load_options:
            self.load_options["device"] = "cuda"
        self.n_calls = 0  # chunks sent to actors (for benchmarks and tests)

    def _ray(self) -> Any:
        try:
            import ray
        except ImportError:
            raise UserError("--backend ray needs Ray: pip install 'mlir-bench[ray]' (or 'ray[data]')") from None
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "ignore_reinit_error": True}
            if self.address:
                kwargs["address"] = self.address
            else:  # a local instance sized to the actors we start
                kwargs["num_cpus"] = max(os.cpu_count() or 1,
                                         int(self.num_actors * (self.cpus_per_actor or 1)))
            ray.init(**kwargs)
        return ray

    def chunks(self, texts: Sequence[str]) -> list[list[str]]:
        """Longest first, cut into ``chunk_size`` pieces: the same chunks the local path encodes."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        step = max(1, int(self.chunk_size))
        return [[texts[i] for i in order[a:a + step]] for a in range(0, len(order), step)]

    def encode_into_cache(self, texts: Sequence[str], role: str, key: str) -> None:
        """Encode ``texts`` in ``role`` on the actor pool; every vector lands in the cache under ``key``."""
        if not texts:
            return
        ray = self._ray()
        chunks = self.chunks(texts)
        ds = ray.data.from_items([{"texts": c} for c in chunks], override_num_blocks=len(chunks))
        resources: dict[str, Any] = {}
        if self.cpus_per_actor is not None:
            resources["num_cpus"] = self.cpus_per_actor
        if self.gpus_per_actor:
            resources["num_gpus"] = self.gpus_per_actor
        out = ds.map_batches(
            _EncodeActor,
            fn_constructor_kwargs={"model": self.model, "options": self.load_options,
                                   "cache_root": self.cache_root, "key": key, "role": role,
                                   "batch_size": self.batch_size},
            batch_size=1,
            concurrency=self.num_actors,
            **resources,
        )
        done = int(sum(int(r["n"]) for r in out.take_all()))
        self.n_calls += len(chunks)
        if done != len(texts):
            raise ModelError(f"ray backend: encoded {done} of {len(texts)} {role} texts")


def ray_factory(cache_root: str | Path, *, address: str | None = None, num_actors: int = 1,
                batch_size: int | None = None, threads: int | None = None, dtype: str = "float32",
                gpus_per_actor: float = 0.0, chunk_size: int | None = None, device: str | None = None,
                engine: str = "torch", quantization: str = "none") -> Callable[[str], RayEncoding]:
    """What the CLI hands the runner: model name -> a :class:`RayEncoding` with the CLI's load options.

    ``device`` None: "cuda" for GPU actors, else "cpu" (a CPU actor never takes a GPU it was not given).
    """
    options: dict[str, Any] = {"batch_size": batch_size, "dtype": dtype, "engine": engine,
                               "quantization": quantization}
    if threads:
        options["threads"] = threads
    if device and device != "auto":
        options["device"] = device
    elif not gpus_per_actor:
        options["device"] = "cpu"

    def make(model: str) -> RayEncoding:
        return RayEncoding(model, cache_root, address=address, num_actors=num_actors,
                           cpus_per_actor=float(threads) if threads else None, gpus_per_actor=gpus_per_actor,
                           batch_size=batch_size, chunk_size=chunk_size or DEFAULT_CHUNK, load_options=options)

    return make
