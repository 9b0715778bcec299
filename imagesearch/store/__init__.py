"""The artifact set on disk: what the build writes and the app reads, and every check between them.

Owns the file formats (description.csv, embedding.pkl, index.faiss, lexical.npz, manifest.json), their
atomic writing, their guarded reading, and :class:`~imagesearch.store.artifacts.ArtifactSet`, a loaded and
verified set with its searchers. May import only ``imagesearch.errors`` and itself: no model, no Hub, no
server code.
"""
