"""Evaluators shared by every model: full-ranking top-k metrics and the KGCN / RippleNet CTR protocol."""
