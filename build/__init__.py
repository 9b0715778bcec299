"""Build steps that turn images into a served artifact set (``python -m build <step>``).

This package shadows the PyPA ``build`` package on purpose when run from the
repository root: ``python -m`` puts the current folder first on sys.path.
"""
