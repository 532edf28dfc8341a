import numpy as np

from knowledge.search_tables import pack, unpack


def test_stored_vectors_are_unit_float16_with_float32_cosines_within_a_thousandth() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 512)).astype(np.float32) * 3.0
    blobs = [pack(v) for v in vectors]
    assert {len(b) for b in blobs} == {1024}
    back = unpack(blobs)
    assert back.dtype == np.float32 and np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-6)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    query = unit[0]
    assert np.abs(back @ query - unit @ query).max() < 1e-3
    assert unpack([]).shape == (0, 0)
