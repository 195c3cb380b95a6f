"""Organisations as FHIR R4 ``Organization`` resources, shaped to the UK Core profile."""
