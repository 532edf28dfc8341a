"""Recordings sealed at rest (format VLA1): AES-256-GCM over fixed-size chunks, so that a byte
range is read by decrypting only the chunks it touches.

A sealed file is a 32-byte header followed by the chunks:

    magic b"VLA1" | key id (8) | nonce prefix (8) | chunk bytes (u32) | plaintext bytes (u64)
    chunk 0 | chunk 1 | ... | chunk n-1      each: ciphertext of chunk_bytes (the last: the
                                             rest, maybe 0) + 16-byte GCM tag

Chunk i is sealed with nonce = nonce prefix + i (u32, big-endian) and associated data = header +
i (u64) + a last-chunk flag, so a chunk cannot be changed, moved, dropped or cut off, nor the
header edited, without failing authentication. The key id is the first 8 bytes of SHA-256 of
the key: it names the key to use (rotation) and reveals nothing about it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from knowledge.errors import VisitlensError

MAGIC = b"VLA1"
KEY_BYTES = 32
CHUNK_BYTES = 64 * 1024
TAG_BYTES = 16
_HEADER = struct.Struct(">4s8s8sIQ")  # magic, key id, nonce prefix, chunk bytes, plaintext bytes
HEADER_BYTES = _HEADER.size
_MAX_CHUNK_BYTES = 16 * 1024 * 1024
_MAX_CHUNKS = 2**32  # the chunk index is 4 bytes of the 12-byte nonce


class SealedAudioError(VisitlensError):
    """A sealed recording that cannot be read back."""

    code = "audio_unreadable"


class AudioKeyUnknown(SealedAudioError):
    code = "audio_key_unknown"


class AudioDamaged(SealedAudioError):
    code = "audio_damaged"


class AudioTruncated(SealedAudioError):
    code = "audio_truncated"


@dataclass(frozen=True)
class AudioKey:
    """A 32-byte AES-256 key; its repr shows only the key id."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"An audio key must be {KEY_BYTES} bytes, not {len(self.secret)}.")

    def __repr__(self) -> str:
        return f"AudioKey(id={self.id.hex()})"

    @property
    def id(self) -> bytes:
        return hashlib.sha256(self.secret).digest()[:8]

    @classmethod
    def from_text(cls, text: str) -> AudioKey:
        """Parse base64 of 32 bytes; the error never repeats the text."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                "An audio key must be base64 of 32 random bytes (44 characters); this one is not "
                "base64. Make one with `visitlens audio keygen`."
            ) from None
        if len(raw) != KEY_BYTES:
            raise ValueError(
                f"An audio key must be base64 of {KEY_BYTES} random bytes; this one holds "
                f"{len(raw)} bytes. Make one with `visitlens audio keygen`."
            )
        return cls(raw)

    @classmethod
    def generate(cls) -> AudioKey:
        return cls(os.urandom(KEY_BYTES))

    def to_text(self) -> str:
        return base64.b64encode(self.secret).decode("ascii")


@dataclass(frozen=True)
class Keyring:
    """The key new recordings are sealed with (None: stored in plain) and earlier keys that
    still open recordings sealed before a rotation."""

    current: AudioKey | None = None
    old: tuple[AudioKey, ...] = ()

    def find(self, key_id: bytes, *, name: str) -> AudioKey:
        for key in (self.current, *self.old):
            if key is not None and key.id == key_id:
                return key
        if self.current is None and not self.old:
            raise AudioKeyUnknown(
                f"The recording {name} is encrypted but no audio key is configured: "
                "set VISITLENS_AUDIO_KEY."
            )
        raise AudioKeyUnknown(
            f"The recording {name} is encrypted with audio key {key_id.hex()}, which this server "
            "does not have: add it to VISITLENS_AUDIO_OLD_KEYS."
        )


@dataclass(frozen=True)
class Header:
    key_id: bytes
    nonce_prefix: bytes
    chunk_bytes: int
    plain_bytes: int

    def pack(self) -> bytes:
        return _HEADER.pack(
            MAGIC, self.key_id, self.nonce_prefix, self.chunk_bytes, self.plain_bytes
        )

    @property
    def chunks(self) -> int:
        """How many chunks; an empty recording still has one (empty) last chunk."""
        return max(1, -(-self.plain_bytes // self.chunk_bytes))

    @property
    def sealed_bytes(self) -> int:
        """The size the sealed file must have."""
        return HEADER_BYTES + self.plain_bytes + self.chunks * TAG_BYTES

    def plain_len(self, index: int) -> int:
        return min(self.chunk_bytes, self.plain_bytes - index * self.chunk_bytes)

    def nonce(self, index: int) -> bytes:
        return self.nonce_prefix + index.to_bytes(4, "big")

    def associated(self, index: int) -> bytes:
        last = index == self.chunks - 1
        return self.pack() + struct.pack(">QB", index, last)


def read_header(f: BinaryIO, *, name: str) -> Header | None:
    """The header of a sealed file, or None for a recording stored in plain (no magic)."""
    f.seek(0)
    raw = f.read(HEADER_BYTES)
    if not raw.startswith(MAGIC):
        return None
    if len(raw) < HEADER_BYTES:
        raise AudioTruncated(f"The recording {name} is cut short: its header is incomplete.")
    _, key_id, prefix, chunk_bytes, plain_bytes = _HEADER.unpack(raw)
    if not 0 < chunk_bytes <= _MAX_CHUNK_BYTES:
        raise AudioDamaged(f"The recording {name} is damaged: its header is not valid.")
    return Header(key_id, prefix, chunk_bytes, plain_bytes)


def check_size(f: BinaryIO, header: Header, *, name: str) -> None:
    """Refuse a sealed file cut short or grown, before reading any chunk."""
    actual = f.seek(0, os.SEEK_END)
    if actual < header.sealed_bytes:
        raise AudioTruncated(
            f"The recording {name} is cut short ({actual} of {header.sealed_bytes} bytes)."
        )
    if actual > header.sealed_bytes:
        raise AudioDamaged(f"The recording {name} is damaged: it has bytes after its end.")


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The same bytes in pieces of exactly `size` (the last: the rest)."""
    rest = b""
    for chunk in chunks:
        data = rest + chunk if rest else chunk
        at = 0
        while len(data) - at >= size:
            yield data[at : at + size]
            at += size
        rest = data[at:]
    if rest:
        yield rest


def seal(
    chunks: Iterable[bytes],
    dst: BinaryIO,
    *,
    key: AudioKey,
    plain_bytes: int,
    chunk_bytes: int = CHUNK_BYTES,
) -> None:
    """Write `plain_bytes` of plaintext, given in pieces of any size, sealed to `dst`."""
    header = Header(key.id, os.urandom(8), chunk_bytes, plain_bytes)
    if header.chunks > _MAX_CHUNKS:
        raise ValueError(f"{plain_bytes} bytes need more than {_MAX_CHUNKS} chunks.")
    aead = AESGCM(key.secret)
    dst.write(header.pack())
    pieces = _rechunk(chunks, chunk_bytes)
    for index in range(header.chunks):
        piece = next(pieces, b"")
        if len(piece) != header.plain_len(index):
            raise ValueError(f"The plaintext is shorter than the {plain_bytes} bytes announced.")
        dst.write(aead.encrypt(header.nonce(index), piece, header.associated(index)))
    if next(pieces, b""):
        raise ValueError(f"The plaintext is longer than the {plain_bytes} bytes announced.")


def unseal_range(
    f: BinaryIO, header: Header, key: AudioKey, *, start: int, end: int, name: str
) -> Iterator[bytes]:
    """Plaintext bytes [start, end) of a sealed file, one authenticated chunk at a time."""
    end = min(end, header.plain_bytes)
    if start >= end:
        return
    aead = AESGCM(key.secret)
    sealed_chunk = header.chunk_bytes + TAG_BYTES
    for index in range(start // header.chunk_bytes, (end - 1) // header.chunk_bytes + 1):
        f.seek(HEADER_BYTES + index * sealed_chunk)
        want = header.plain_len(index) + TAG_BYTES
        sealed = f.read(want)
        if len(sealed) < want:
            raise AudioTruncated(f"The recording {name} is cut short at chunk {index}.")
        try:
            plain = aead.decrypt(header.nonce(index), sealed, header.associated(index))
        except InvalidTag:
            raise AudioDamaged(
                f"The recording {name} failed its integrity check at chunk {index}: it was "
                "changed or damaged on disk."
            ) from None
        offset = index * header.chunk_bytes
        yield plain[max(start - offset, 0) : end - offset]
