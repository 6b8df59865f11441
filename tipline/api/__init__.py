"""The partner API: read-only JSON for agency case systems, with scoped bearer tokens."""
