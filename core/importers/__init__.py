"""Spreadsheet imports and exports: customers (our template, HubSpot, Salesforce) and usage events.

Every upload is read as text, checked row by row, and written all-or-nothing inside the caller's
transaction; the :class:`~core.importers.report.ImportReport` says what was accepted, skipped or rejected,
and why, row by row.
"""
