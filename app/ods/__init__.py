"""NHS Organisation Data Service (ODS): role codes, and importing Organisation Reference Data."""
