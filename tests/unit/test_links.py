import pytest

from api.links import Signer, audio_link, signed_audio_user
from knowledge.errors import Unauthorized

DAY = 86_400
AUDIO = "/api/visits/v1/audio"


def _query(link: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in link.split("#")[0].split("?", 1)[1].split("&"))


def test_without_a_signer_links_are_plain_paths_with_the_second() -> None:
    assert audio_link(None, "v1") == AUDIO
    assert audio_link(None, "v1", 12.0) == "/api/visits/v1/audio#t=12"
    assert audio_link(None, "v1", 12.34) == "/api/visits/v1/audio#t=12.3"


def test_a_signed_link_opens_its_recording_for_its_user_until_it_expires() -> None:
    now = 100 * DAY + 5
    link = audio_link(Signer("secret", 7), "v1", 3.5, now=now)
    assert link.startswith("/api/visits/v1/audio?u=7&expires=") and link.endswith("#t=3.5")
    query = _query(link)
    assert link == audio_link(Signer("secret", 7), "v1", 3.5, now=now + 60)  # stable all day
    assert signed_audio_user("secret", AUDIO, query, now=now) == 7
    assert signed_audio_user("secret", AUDIO, query, now=now + 30 * DAY) == 7
    assert signed_audio_user("secret", "/api/visits/v1", query, now=now) is None
    assert signed_audio_user("secret", AUDIO, {}, now=now) is None


@pytest.mark.parametrize(
    "secret, path, change, later",
    [
        ("secret", AUDIO, {}, 32 * DAY),  # expired
        ("other", AUDIO, {}, 0),  # another server's secret
        ("secret", "/api/visits/v2/audio", {}, 0),  # another recording
        ("secret", AUDIO, {"u": "8"}, 0),  # another user
        ("secret", AUDIO, {"expires": "x"}, 0),
    ],
)
def test_a_forged_or_expired_link_is_refused(
    secret: str, path: str, change: dict[str, str], later: int
) -> None:
    now = 100 * DAY + 5
    query = {**_query(audio_link(Signer("secret", 7), "v1", now=now)), **change}
    with pytest.raises(Unauthorized) as e:
        signed_audio_user(secret, path, query, now=now + later)
    assert e.value.code == "link_expired"
