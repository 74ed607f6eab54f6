"""Which hash a database stores, without numpy: the command line checks `--hash` and starts its
first decoder before the heavy imports (framedb.hashing computes the hashes)."""

from __future__ import annotations

from dataclasses import dataclass

from framedb.errors import BadArgumentError

KINDS = ("ahash", "dhash", "phash", "dct")


@dataclass(frozen=True)
class HashSpec:
    """Which hash a database stores: its kind and its side N (N x N bits)."""

    kind: str = "dct"
    size: int = 8

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise BadArgumentError(
                f"unknown hash kind {self.kind!r}: use one of {', '.join(KINDS)}"
            )
        if not 4 <= self.size <= 32 or (self.size * self.size) % 8:
            raise BadArgumentError(
                f"hash size {self.size} is not supported: use N = 4, 8, 12, ... 32 (N x N bits)"
            )

    @property
    def bits(self) -> int:
        return self.size * self.size

    @property
    def nbytes(self) -> int:
        return self.bits // 8

    def __str__(self) -> str:
        return f"{self.kind}{self.size}"
