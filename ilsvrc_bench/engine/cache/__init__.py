"""The preprocessed cache: a dataset's uint8 protocol views, decoded once, memory-mapped.

A cache holds exactly the uint8 views the decoding path makes (``loader.ImageViews``), so scoring
from it gives bit-identical results. It lives in the dataset's folder, one directory per key
(manifest SHA-256 + the preprocessing that shapes pixels + protocol + decoder)::

    <dataset>/cache/<digest[:16]>/
      plan.json     the key, shape and chunk size, written first
      views.u8      uint8 [N, V, 3, crop, crop] in manifest order, space reserved up front
      sha256.bin    32 bytes per image: SHA-256 of its views, checked on every read
      chunks.jsonl  one line per chunk made durable (data and hashes fsynced before the line)
      cache.json    written last, atomically: only a cache that has it is ever read

A writer killed at any point leaves ``cache.json`` absent, so the cache is not used; building
again resumes from the chunks listed in ``chunks.jsonl`` (a torn last line is ignored).

The key, the plan and the files' names are in ``layout``, writing in ``build``, reading in
``read``; this package gives the one public face of all three.
"""

from ilsvrc_bench.engine.cache.build import build
from ilsvrc_bench.engine.cache.layout import (
    CHUNKS,
    DONE,
    HASHES,
    PLAN,
    VIEWS,
    CacheKey,
    CachePlan,
    plan,
    status,
)
from ilsvrc_bench.engine.cache.read import CachedViews, open_complete

__all__ = [
    "CHUNKS",
    "DONE",
    "HASHES",
    "PLAN",
    "VIEWS",
    "CacheKey",
    "CachePlan",
    "CachedViews",
    "build",
    "open_complete",
    "plan",
    "status",
]
