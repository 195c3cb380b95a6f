"""The change feed (``GET /v1/changes``): what changed in the map, in commit order, for
portals that mirror it.

It is a reading of the audit trail, not a store of its own: every write that puts an audit
event on record (app.audit) appears here, positioned by the database as the write commits
(see docs/decisions.md, "The change feed")."""
