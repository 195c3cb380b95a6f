"""Access control: who the caller is (keys, tokens, signed links), what it may do (roles,
organisation scope), what it did (the audit trail), and how often (rate limits)."""
