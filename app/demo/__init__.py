"""Demo data: a fictional integrated care system to explore the service with."""
