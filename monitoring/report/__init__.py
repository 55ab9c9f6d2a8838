"""The stakeholder report: one model's health over a range, as HTML and as CSV tables.

Pure: ReportData in, a document out; collectors.report_data builds the data from the store.
"""

from monitoring.report.data import COLUMNS, Headline, ReportData, higher_is_better
from monitoring.report.document import SECTIONS, render_html
from monitoring.report.figures import report_figures
from monitoring.report.summary import summary_paragraph
from monitoring.report.tables import csv_zip, report_tables
from monitoring.report.text import metric_label

__all__ = [
    "COLUMNS",
    "SECTIONS",
    "Headline",
    "ReportData",
    "csv_zip",
    "higher_is_better",
    "metric_label",
    "render_html",
    "report_figures",
    "report_tables",
    "summary_paragraph",
]
