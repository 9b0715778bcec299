"""Text-to-image search over vision-language-model captions.

The package is shared by the build steps (``python -m build ...``) and the
Space (``app.py``). Its modules each do one job:

- ``errors``: the one-line error types users see.
- ``fileio``: atomic writes and checksums.
- ``safe_pickle``: the only way an embedding pickle is ever read.
- ``records``: description.csv, the row-per-image table.
- ``manifest``: manifest.json, the contract that ties an artifact set together.
- ``vector_index``: building, tuning, writing and safely reading FAISS indexes.
- ``encoder``: resolving and loading the sentence-transformers text encoder.
- ``artifacts``: loading and validating a whole artifact set.
- ``search``: the search function the UI and the API both call.
- ``config``: the app's settings, parsed once from the environment.
- ``ui``: the Gradio Blocks.
"""
