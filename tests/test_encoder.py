"""The text encoder pads batches to a few shapes, which keeps a long embed run's memory level."""

import random

import numpy as np

from imagesearch.models.encoder import PAD_TO_MULTIPLE_OF


def test_batches_are_padded_to_a_multiple_of_eight_tokens_and_the_vectors_do_not_change(minilm, monkeypatch):
    words = "a red dress with white dots on a model walking down the street past a small dog".split()
    rng = random.Random(3)
    texts = [" ".join(rng.choices(words, k=rng.randint(1, 40))) for _ in range(70)]
    module = minilm.model[0]
    original = module.preprocess
    lengths = []

    def recording(*args, **kwargs):
        features = original(*args, **kwargs)
        lengths.append(features["input_ids"].shape[1])
        return features

    monkeypatch.setattr(module, "preprocess", recording)
    padded = minilm.encode(texts, batch_size=16)
    assert len(lengths) == 5 and all(length % PAD_TO_MULTIPLE_OF == 0 for length in lengths), lengths

    lengths.clear()
    monkeypatch.setattr(minilm, "pad_to_multiple_of", None)
    plain = minilm.encode(texts, batch_size=16)
    assert any(length % PAD_TO_MULTIPLE_OF for length in lengths), lengths  # unpadded batches vary, else no proof
    assert padded.shape == plain.shape == (70, minilm.dimension)
    np.testing.assert_allclose(padded, plain, atol=1e-5)
