"""Training loops: the recommender trainer and the KG-embedding trainer."""
