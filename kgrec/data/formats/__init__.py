"""One parser per on-disk format; each returns a :class:`kgrec.data.dataset.RecDataset`."""
