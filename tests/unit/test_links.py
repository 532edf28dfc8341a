from api.links import audio_link, signed_audio_request

DAY = 86_400


def _query(link: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in link.split("#")[0].split("?", 1)[1].split("&"))


def test_without_a_token_links_are_plain_paths_with_the_second() -> None:
    assert audio_link(None, "v1") == "/api/visits/v1/audio"
    assert audio_link(None, "v1", 12.0) == "/api/visits/v1/audio#t=12"
    assert audio_link("", "v1", 12.34) == "/api/visits/v1/audio#t=12.3"


def test_a_signed_link_opens_its_recording_until_it_expires() -> None:
    now = 100 * DAY + 5
    link = audio_link("tok", "v1", 3.5, now=now)
    assert link.startswith("/api/visits/v1/audio?expires=") and link.endswith("#t=3.5")
    query = _query(link)
    assert link == audio_link("tok", "v1", 3.5, now=now + 60)  # stable within the day
    assert signed_audio_request("tok", "/api/visits/v1/audio", query, now=now)
    assert signed_audio_request("tok", "/api/visits/v1/audio", query, now=now + 30 * DAY)
    assert not signed_audio_request("tok", "/api/visits/v1/audio", query, now=now + 32 * DAY)
    assert not signed_audio_request("other", "/api/visits/v1/audio", query, now=now)
    assert not signed_audio_request("tok", "/api/visits/v2/audio", query, now=now)
    assert signed_audio_request("tok", "/api/visits/v1", query, now=now) is None
    assert signed_audio_request("tok", "/api/visits/v1/audio", {}, now=now) is None
    assert not signed_audio_request(
        "tok", "/api/visits/v1/audio", {**query, "expires": "x"}, now=now
    )
