"""Action plans: the items an organisation will do about its capabilities."""
