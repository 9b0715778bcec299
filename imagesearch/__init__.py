"""Text-to-image search over vision-language-model captions: the code the Space and the build share.

Sub-packages by role, each importing only what lies below it (tests/test_layout.py checks this):

- ``errors``: the one-line error types users see, and how messages name the build command. Imports nothing.
- ``store``: the artifact set on disk, the contract between the build and the app: atomic writes, the CSV of
  rows, the array-only pickle, the manifest, the FAISS file format and its searchers, the BM25 lexical index,
  and loading a whole set with every check. Imports ``errors`` only.
- ``models``: the models and their inputs: the text encoder, the captioner and its answer cleaner, image
  decoding, whether a model can be had offline. Imports ``errors`` and ``store``.
- ``hub``: a published set on the Hugging Face Hub: one-line Hub errors, and a verified local copy of a set.
  Imports ``errors`` and ``store``.
- ``serve``: answering people and programs: settings, the search engine, the page, the public API, search by
  image, startup. May import everything above.

Nothing here imports ``build`` (the steps that make a set) or ``testkit``.
"""
