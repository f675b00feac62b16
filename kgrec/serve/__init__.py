"""The HTTP service of ``kgrec serve``: explained recommendations, paths, counterfactuals and rules of one run.

:mod:`kgrec.serve.app` needs FastAPI (``pip install "kgrec[serve]"``); :mod:`kgrec.serve.params` and
:mod:`kgrec.serve.counterfactual` do not.
"""
