"""Report files of the analytics service: the indicator workbook, the PDF report for the
ministry and the city, indicator tables as CSV, and the raw responses workbook.

Writers are plain functions of the snapshot's cells (`content` holds what they share);
`export.run_export` is the unit of work behind the Celery task `analytics.export`.
"""
