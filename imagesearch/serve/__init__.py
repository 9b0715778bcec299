"""Answering people, programs and agents: settings parsed once from the environment (``config``), the
request cleaned once (``request``), the search engine (``search``), the page (``page``, ``cards``,
``links``), the public endpoints (``api``), search by image (``image_query``), opening the served set
(``startup``) and memory limits (``memory``). May import every other part of ``imagesearch``.
"""
