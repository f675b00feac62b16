"""The run report of a pipeline run directory: ``report.html`` (self-contained) and ``report.md``.

>>> from kgrec.report import build_report
>>> html_path, md_path = build_report("runs/movies")
"""

from kgrec.report.build import build_report, gallery_picture_name

__all__ = ["build_report", "gallery_picture_name"]
