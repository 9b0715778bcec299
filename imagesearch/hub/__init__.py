"""A published artifact set on the Hugging Face Hub: Hub failures as one line (``errors``), used by the
build's publish and deploy too, and a set fetched into a verified local copy (``download``). May import
``imagesearch.errors`` and ``imagesearch.store``; the checks a copy must pass are handed in by the caller.
"""
