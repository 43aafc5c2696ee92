"""The anomaly app's committed model: `backbone.aem` (package data) and its `REPORT.md`."""
