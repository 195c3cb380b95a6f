"""The audit trail, a package of its own: every feature that changes records (or lets data
out) writes to it, so it sits below them all and imports none of them but the organisation
hierarchy it filters by.

``service`` records events in the caller's unit of work and lists them; the route that lists
them is the auth router's (``GET /v1/audit-events``)."""
