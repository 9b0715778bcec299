"""Helpers the tests and the benchmarks share; neither a test nor product code (the Space never ships it).

- ``factory``: small artifact sets through the real build writers.
- ``vector_set``: a whole set from rows and vectors made elsewhere.
- ``fake_hub``: the Hugging Face Hub at huggingface_hub's transport seam.
- ``tiny_captioner``: a tiny random-weight model of every captioner family, built from configs, no download.
- ``published``: a set published to the fake Hub, and a Space started from it.
- ``ports``: a free loopback port.
- ``paths``: where the repository, the demo and the seed captions are.
- ``commands``: ``python -m build ...`` run as a user runs it.
"""
