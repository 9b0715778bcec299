"""The embed stage's engines beside the step's own local encoder: ray_pool.py encodes the descriptions on a
pool of sentence-transformers actors. Imports build's bottom floor only."""
