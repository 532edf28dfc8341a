"""The VLA1 format: round trips, ranges across chunk boundaries, and every way a sealed
recording can be wrong (changed, cut short, another key) refused with a clear error."""

from __future__ import annotations

import io
import os

import pytest
from pydantic import ValidationError

from knowledge.audio_crypto import (
    HEADER_BYTES,
    TAG_BYTES,
    AudioDamaged,
    AudioKey,
    AudioKeyUnknown,
    AudioTruncated,
    Header,
    Keyring,
    check_size,
    read_header,
    seal,
    unseal_range,
)
from knowledge.settings import Settings

CHUNK = 16  # small chunks, so that short data crosses many boundaries
KEY = AudioKey(bytes(range(32)))
DATA = os.urandom(5 * CHUNK + 7)


def sealed(data: bytes = DATA, key: AudioKey = KEY, chunk: int = CHUNK) -> bytes:
    out = io.BytesIO()
    seal([data[:10], data[10:]], out, key=key, plain_bytes=len(data), chunk_bytes=chunk)
    return out.getvalue()


def unseal(blob: bytes, keys: Keyring, start: int = 0, end: int | None = None) -> bytes:
    f = io.BytesIO(blob)
    header = read_header(f, name="v.mp3")
    assert header is not None
    check_size(f, header, name="v.mp3")
    key = keys.find(header.key_id, name="v.mp3")
    stop = header.plain_bytes if end is None else end
    return b"".join(unseal_range(f, header, key, start=start, end=stop, name="v.mp3"))


def test_round_trip_gives_the_same_bytes_and_hides_them() -> None:
    blob = sealed()
    assert blob.startswith(b"VLA1")
    assert len(blob) == HEADER_BYTES + len(DATA) + 6 * TAG_BYTES
    assert DATA[:CHUNK] not in blob
    assert unseal(blob, Keyring(KEY)) == DATA


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK])
def test_round_trip_at_every_size_near_a_boundary(size: int) -> None:
    data = os.urandom(size)
    assert unseal(sealed(data), Keyring(KEY)) == data


def test_same_recording_sealed_twice_differs() -> None:
    assert sealed() != sealed()


@pytest.mark.parametrize(
    ("start", "end"),
    [(0, 1), (0, CHUNK), (CHUNK - 1, CHUNK + 1), (CHUNK, 2 * CHUNK), (17, 70), (79, 87), (0, 87)],
)
def test_range_reads_match_slices_across_chunk_boundaries(start: int, end: int) -> None:
    assert unseal(sealed(), Keyring(KEY), start, end) == DATA[start:end]


def test_range_past_the_end_is_cut_to_the_end() -> None:
    assert unseal(sealed(), Keyring(KEY), 80, 10_000) == DATA[80:]
    assert unseal(sealed(), Keyring(KEY), 100, 200) == b""


def test_a_changed_byte_fails_the_integrity_check() -> None:
    blob = bytearray(sealed())
    blob[HEADER_BYTES + 2 * (CHUNK + TAG_BYTES) + 3] ^= 1
    with pytest.raises(AudioDamaged, match="chunk 2") as e:
        unseal(bytes(blob), Keyring(KEY))
    assert e.value.code == "audio_damaged"
    assert unseal(bytes(blob), Keyring(KEY), 0, CHUNK) == DATA[:CHUNK]  # other chunks still open


def test_an_edited_header_fails_every_chunk() -> None:
    blob = bytearray(sealed())
    blob[HEADER_BYTES - 1] ^= 1  # the plaintext size, so the file no longer matches it either
    with pytest.raises((AudioDamaged, AudioTruncated)):
        unseal(bytes(blob), Keyring(KEY))


def test_swapped_chunks_are_refused() -> None:
    blob = sealed()
    span = CHUNK + TAG_BYTES
    first, second = blob[HEADER_BYTES : HEADER_BYTES + span], blob[HEADER_BYTES + span :][:span]
    swapped = blob[:HEADER_BYTES] + second + first + blob[HEADER_BYTES + 2 * span :]
    with pytest.raises(AudioDamaged, match="chunk 0"):
        unseal(swapped, Keyring(KEY))


def test_a_file_cut_short_is_refused() -> None:
    blob = sealed()
    for cut in (len(blob) - 1, len(blob) - (7 + TAG_BYTES), HEADER_BYTES + 3, 10):
        with pytest.raises(AudioTruncated) as e:
            unseal(blob[:cut], Keyring(KEY))
        assert e.value.code == "audio_truncated"


def test_a_cut_that_drops_whole_chunks_and_fixes_the_size_is_refused() -> None:
    """Rewriting the header to a shorter size breaks the chunks' associated data."""
    blob = sealed()
    header = read_header(io.BytesIO(blob), name="v")
    assert header is not None
    shorter = Header(header.key_id, header.nonce_prefix, CHUNK, 2 * CHUNK)
    forged = shorter.pack() + blob[HEADER_BYTES : HEADER_BYTES + 2 * (CHUNK + TAG_BYTES)]
    with pytest.raises(AudioDamaged):
        unseal(forged, Keyring(KEY))


def test_a_wrong_key_is_named_by_id_and_never_shown() -> None:
    other = AudioKey.generate()
    with pytest.raises(AudioKeyUnknown, match=KEY.id.hex()) as e:
        unseal(sealed(), Keyring(other))
    assert e.value.code == "audio_key_unknown"
    assert "VISITLENS_AUDIO_OLD_KEYS" in e.value.message
    assert KEY.to_text() not in e.value.message and other.to_text() not in e.value.message


def test_no_key_at_all_says_to_set_one() -> None:
    with pytest.raises(AudioKeyUnknown, match="VISITLENS_AUDIO_KEY"):
        unseal(sealed(), Keyring())


def test_an_old_key_still_opens() -> None:
    assert unseal(sealed(), Keyring(AudioKey.generate(), (KEY,))) == DATA


def test_plain_recordings_are_recognised_as_plain() -> None:
    assert read_header(io.BytesIO(b"ID3\x04 an mp3"), name="v.mp3") is None
    assert read_header(io.BytesIO(b""), name="v.mp3") is None


def test_key_text_round_trips_and_repr_hides_the_secret() -> None:
    key = AudioKey.generate()
    assert AudioKey.from_text(key.to_text()) == key
    assert key.to_text() not in repr(key) and key.id.hex() in repr(key)


@pytest.mark.parametrize("text", ["c2hvcnQ=", "not base64 at all!", "A" * 43])
def test_bad_key_text_is_refused_without_repeating_it(text: str) -> None:
    with pytest.raises(ValueError, match="visitlens audio keygen") as e:
        AudioKey.from_text(text)
    assert text not in str(e.value)


def test_settings_refuse_a_bad_key_at_startup_without_showing_it() -> None:
    secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="  # 21 bytes
    with pytest.raises(ValidationError, match="32 random bytes") as e:
        Settings(audio_key=secret)
    assert secret not in str(e.value)
    with pytest.raises(ValidationError):
        Settings(audio_old_keys=[KEY.to_text(), secret])


def test_settings_read_old_keys_comma_separated_or_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new, old = AudioKey.generate(), AudioKey.generate()
    monkeypatch.setenv("VISITLENS_AUDIO_KEY", new.to_text())
    monkeypatch.setenv("VISITLENS_AUDIO_OLD_KEYS", f"{old.to_text()}, {KEY.to_text()}")
    assert Settings().audio_keyring == Keyring(new, (old, KEY))
    monkeypatch.setenv("VISITLENS_AUDIO_OLD_KEYS", f'["{old.to_text()}"]')
    assert Settings().audio_keyring.old == (old,)
    assert "**" in repr(Settings()) and new.to_text() not in repr(Settings())


def test_settings_without_a_key_store_in_plain() -> None:
    assert Settings(audio_key=None).audio_keyring == Keyring()


def test_settings_take_an_empty_key_as_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISITLENS_AUDIO_KEY", "")
    assert Settings().audio_key is None
