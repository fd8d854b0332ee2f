"""Reports: report.json and the printed summary."""
