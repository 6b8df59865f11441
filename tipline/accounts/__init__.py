"""Staff users, roles, jurisdictions, sign-in with a second factor, and the audit log."""
