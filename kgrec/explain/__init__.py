"""Explanations: relation paths, mined rules, rule-guided sentences and their faithfulness."""
