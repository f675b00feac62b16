"""Models: knowledge-graph embeddings (TransH) and the recommender built on them."""
