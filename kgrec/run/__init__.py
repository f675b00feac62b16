"""Run directories: what a training run writes and reads back (:mod:`kgrec.run.files`, no torch) and training,
loading and evaluating a run end to end (:mod:`kgrec.run.fit`). :class:`kgrec.Recommender` is built on them."""
