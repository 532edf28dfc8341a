import numpy as np

from nlp.diarize import _spectral


def _voices(link: float, size: int = 12) -> np.ndarray:
    """Affinity of three voices' windows; the first two voices are `link` alike."""
    a = np.full((3 * size, 3 * size), 0.02)
    for v in range(3):
        a[v * size : (v + 1) * size, v * size : (v + 1) * size] = 1.0
    a[:size, size : 2 * size] = a[size : 2 * size, :size] = link
    return a


def test_three_distinct_voices_are_three_speakers() -> None:
    assert _spectral(_voices(0.0), 2, 4)[0] == 3
    assert _spectral(_voices(0.3), 2, 4)[0] == 3  # the third cluster's gap is clearly larger


def test_a_near_tie_between_two_and_three_speakers_goes_to_two() -> None:
    # the gap for three clusters is a little larger (0.507 against 0.439), within noise
    assert _spectral(_voices(0.32), 2, 4)[0] == 2
