"""Bulk data in and out: spreadsheet (CSV) and JSON imports and exports of assets and
activities, the gap analysis as CSV, and the whole map of an organisation's subtree."""
